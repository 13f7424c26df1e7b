from licence_svc.cli import main

if __name__ == "__main__":  # worker processes (spawn) import this file without running it
    main()
