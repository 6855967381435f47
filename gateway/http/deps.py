"""FastAPI dependencies: what handlers get from the running app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from chain.manifest import Manifest
from gateway.relayer.service import Relayer
from gateway.settings import Settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_manifest(request: Request) -> Manifest:
    manifest: Manifest = request.app.state.manifest
    return manifest


def get_relayer(request: Request) -> Relayer:
    relayer: Relayer = request.app.state.relayer
    return relayer


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ManifestDep = Annotated[Manifest, Depends(get_manifest)]
RelayerDep = Annotated[Relayer, Depends(get_relayer)]
