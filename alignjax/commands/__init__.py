"""One module per ``alignjax`` subcommand: ``register(subparsers)`` adds its parser, ``run`` does the work."""
