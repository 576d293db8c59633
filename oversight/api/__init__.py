"""The Rekognition wire API: AWS JSON 1.1, SigV4 authentication, model-driven validation.

`api.app.create_app()` builds the server. Nothing is imported here, so a command that only needs
the key store (`oversight keys ...`) does not load every operation module.
"""
