from textrelay.cli import main

main()
