// The dynq command-line tool. Subcommands are listed in Commands.swift; each lives in its own file.
import Foundation

exit(CLI.main(Array(CommandLine.arguments.dropFirst())))
