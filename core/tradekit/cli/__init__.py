"""The ``tradekit`` command. Subcommands are imported only when used, so ``--help`` stays fast."""
