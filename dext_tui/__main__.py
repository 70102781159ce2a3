from dext_tui.cli import main

raise SystemExit(main())
