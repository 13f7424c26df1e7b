"""Persistence: the database (peewee only here), key files and the PDF store."""
