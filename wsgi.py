from licence_svc.web import create_app

app = create_app()
