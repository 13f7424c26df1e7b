from licence_svc.cli import main

main()
