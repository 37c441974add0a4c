"""The command line: `main` (the command group), one module per command, the options and
helpers they share (`options`, `common`), and what they print (`console`, `progress`)
and how they end (`exits`)."""
