"""One module per CLI sub-command. Each defines ``add_parser(subparsers)`` and ``run(args) -> int``.
``options`` (range-checked argparse types) and ``output`` (UTF-8-safe printing) are shared helpers.

Keeping them apart keeps ``cli.py`` thin and lets a command import its heavy dependencies
(torch, Qt) only when it runs.
"""
