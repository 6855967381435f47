"""The gateway's HTTP face: the only package that imports FastAPI or Starlette."""
