"""The subcommands of `retrain`: one module each, with `register(subparsers)`; they never import each other
(what two of them share lives in the library modules of `cli/`)."""
