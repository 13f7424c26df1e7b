"""Pure core: no Flask, no peewee, no file or clock access."""
