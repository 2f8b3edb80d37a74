from scorelet.cli import main

raise SystemExit(main())
