from dext_tui.sandbox.command import main

main()
