"""``python -m koubai`` runs the command-line interface."""

from koubai.cli import main

if __name__ == "__main__":
    main()
