"""The `retrain` command (`python -m cli`), on top of everything else in the project.

`main` builds the parser from `commands/` (one module per subcommand, never importing another);
the modules beside `main` are the library the subcommands share. The import contracts in
pyproject.toml keep that direction.
"""
