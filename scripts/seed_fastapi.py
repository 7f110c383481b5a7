"""The seed's MessageService, as its design document describes it, in FastAPI: the yardstick of
the `POST /messages` row of `scripts/bench.sh peers` (the program Integra replaces).

The design: a message is saved in Redis under `message:{id}` with a one-hour TTL and status
PROCESSANDO, published to the Kafka topic `messages.{tipo}` (the producer waits for the broker's
acknowledgement), then saved again with its final status, CONCLUIDA or ERRO. It is written here
the way that design is usually built: pydantic models, redis-py's asyncio client, aiokafka, one
module. Run by scripts/bench.sh with uvicorn (uvloop and httptools), one worker per core, as
Integra runs one worker per core.

Environment: SEED_REDIS_URL (redis://127.0.0.1:6379/15), SEED_BROKERS (127.0.0.1:9092).
"""

import json
import os
import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from enum import Enum
from typing import Dict, Optional

import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

TTL_SECONDS = 3600


class TipoMensagem(str, Enum):
    email = "email"
    sms = "sms"
    push = "push"
    webhook = "webhook"


class NovaMensagem(BaseModel):
    id: Optional[str] = None
    tipo: TipoMensagem
    destinatario: str = Field(min_length=1, max_length=320)
    conteudo: str
    metadados: Dict[str, str] = {}


class Mensagem(NovaMensagem):
    id: str
    status: str
    erro: Optional[str] = None
    criado_em: str
    atualizado_em: str


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


state = {}


@asynccontextmanager
async def lifespan(_app):
    state["redis"] = aioredis.from_url(os.environ.get("SEED_REDIS_URL", "redis://127.0.0.1:6379/15"))
    producer = AIOKafkaProducer(
        bootstrap_servers=os.environ.get("SEED_BROKERS", "127.0.0.1:9092"), acks="all", linger_ms=5
    )
    await producer.start()
    state["kafka"] = producer
    yield
    await producer.stop()
    await state["redis"].aclose()


app = FastAPI(lifespan=lifespan)


@app.post("/messages", status_code=201)
async def send_message(nova: NovaMensagem) -> Mensagem:
    stamp = now()
    mensagem = Mensagem(
        **nova.model_dump(exclude={"id"}),
        id=nova.id or str(uuid.uuid4()),
        status="PROCESSANDO",
        criado_em=stamp,
        atualizado_em=stamp,
    )
    key = f"message:{mensagem.id}"
    await state["redis"].set(key, mensagem.model_dump_json(), ex=TTL_SECONDS)
    try:
        await state["kafka"].send_and_wait(
            f"messages.{mensagem.tipo.value}",
            mensagem.model_dump_json().encode(),
            key=mensagem.id.encode(),
        )
        mensagem.status = "CONCLUIDA"
    except Exception as e:  # the design saves the cause and answers the error
        mensagem.status = "ERRO"
        mensagem.erro = str(e)
    mensagem.atualizado_em = now()
    await state["redis"].set(key, mensagem.model_dump_json(), ex=TTL_SECONDS)
    if mensagem.status == "ERRO":
        raise HTTPException(status_code=502, detail={"id": mensagem.id, "erro": mensagem.erro})
    return mensagem


@app.get("/messages/{id}")
async def get_message(id: str) -> Mensagem:
    stored = await state["redis"].get(f"message:{id}")
    if stored is None:
        raise HTTPException(status_code=404)
    return Mensagem(**json.loads(stored))
