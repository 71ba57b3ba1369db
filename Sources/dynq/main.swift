print("dynq")
