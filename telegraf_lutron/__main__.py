from telegraf_lutron.cli import main

raise SystemExit(main())
