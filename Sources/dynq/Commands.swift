/// Every `dynq` subcommand, in the order `dynq --help` lists them. Add new commands here (one line each); the
/// command itself lives in its own file.
let allCommands: [Command] = [
    runCommand,
    inspectCommand,
    zooCommand,
    simCommand,
    quantizeCommand,
    evalCommand,
    benchCommand,
    importCommand,
    exportCommand,
]
