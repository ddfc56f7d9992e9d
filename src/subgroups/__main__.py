from subgroups.cli import main

main()
