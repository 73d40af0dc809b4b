"""One module per CLI sub-command. Each defines ``add_parser(subparsers)`` and ``run(args) -> int``.

Keeping them apart keeps ``cli.py`` thin and lets a command import its heavy dependencies
(torch, Qt) only when it runs.
"""
