"""One typed Settings for the whole platform.

Values come from the environment: ``CITYBASE_…``, nested sections with ``__`` (for example
``CITYBASE_WEB__PORT=8080``). Every field has a default and a description; in production mode
the secrets must be given (see ``_check_production``), in development they are generated once into
the data directory.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    development = "development"
    production = "production"


def default_home() -> Path:
    return Path(os.environ.get("CITYBASE_HOME", Path.home() / ".citybase")).expanduser()


class WebSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the console and API listen on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the console and API listen on.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Web worker processes of `citybase serve` (uvicorn's workers). Above 1, the "
        "background worker runs once, in the serving parent, not in each web process.",
    )
    graceful_seconds: int = Field(
        30,
        ge=1,
        description="On SIGTERM, how long requests in flight may take to finish before the "
        "connections are closed (keep it below the orchestrator's grace period).",
    )
    cookie_secure: bool | None = Field(
        None,
        description="Send session cookies only over HTTPS. Default: on in production, off in "
        "development (the demo runs on plain http://127.0.0.1).",
    )
    session_hours: int = Field(12, ge=1, description="Console session lifetime in hours.")
    default_language: str = Field(
        "zh", description="Console language when none is chosen (zh or en)."
    )
    public_url: str | None = Field(
        None,
        description="The platform's public address (https://data.example.gov.cn), used for the "
        "links in the open-data catalog (DCAT-AP, CKAN API). Default: the address each request "
        "came in on.",
    )
    metrics_token: str | None = Field(
        None,
        description="When set, /metrics answers only a scrape that sends it (Authorization: "
        "Bearer …, Prometheus's `authorization` in its scrape config). Default: public.",
    )
    outbound_allow: str = Field(
        "",
        description="Addresses outside the public internet that notification endpoints and "
        "webhooks may reach, comma-separated: networks (10.20.0.0/16, 127.0.0.1) or host names "
        "allowed whatever they resolve to. Empty: public addresses only (loopback, private, "
        "link-local and cloud metadata addresses are refused).",
    )
    cors_origins: str = Field(
        "*",
        description="Web origins whose pages may read the public APIs (CKAN, DCAT catalog, "
        "Open311 reads, NGSI-LD reads) from a browser: * for any (open data is public), a "
        "comma-separated list (https://map.example.gov.cn), or empty for none.",
    )
    open311_jurisdiction: str = Field(
        "",
        description="The Open311 jurisdiction_id this platform answers for; a request naming "
        "another is refused (404). Empty: the city code.",
    )
    open311_media_minutes: int = Field(
        60,
        ge=1,
        le=10080,
        description="How long the public link to a request's photo (Open311 media_url, the "
        "preview without EXIF) stays valid, in minutes (links are stable within such a window).",
    )

    @field_validator("outbound_allow")
    @classmethod
    def _outbound(cls, value: str) -> str:
        from citybase.core.net import OutboundPolicy

        OutboundPolicy.parse(value)  # a bad entry is named at start-up
        return value

    max_body_megabytes: float = Field(
        4, gt=0, le=1000,
        description="The largest request body taken, in MB, where no larger limit below applies: "
        "a larger one is refused (413) before it is read whole.",
    )  # fmt: skip
    max_batch_megabytes: float = Field(
        32, gt=0, le=1000,
        description="The largest body of a batch (readings, NGSI-LD batch operations), in MB.",
    )  # fmt: skip
    batch_paths: str = Field(
        "/api/v1/perception/readings,/api/v1/perception/devices/,/ngsi-ld/v1/entityOperations/,"
        "/ngsi-ld/v1/temporal/entityOperations/",
        description="Comma-separated path prefixes whose bodies take the batch limit.",
    )
    max_upload_megabytes: float = Field(
        100, gt=0, le=10_000,
        description="The largest file upload (multipart/form-data body), in MB, all its files "
        "together (never less than files.max_megabytes): each file is then held to "
        "files.max_megabytes where it is kept, and an imported table or outline file to this.",
    )  # fmt: skip


class IdentitySettings(BaseModel):
    max_failed_logins: int = Field(
        5, ge=1, description="Failed logins in a row after which an account is locked."
    )
    lockout_minutes: int = Field(15, ge=1, description="How long a locked account stays locked.")
    failed_logins_per_address: int = Field(
        20,
        ge=0,
        description="Failed sign-ins from one client address, to any accounts, after which "
        "sign-ins from it are refused (429) until `address_window_minutes` from the first have "
        "passed: one address cannot lock many accounts in a row (0: no limit).",
    )
    address_window_minutes: int = Field(
        15, ge=1, description="The window in which failed sign-ins from one address are counted."
    )
    api_key_days: int = Field(365, ge=1, description="Default lifetime of a new API key in days.")


class LedgerSettings(BaseModel):
    signing_key: str | None = Field(
        None,
        description="Ed25519 private key (32 bytes, hex) that signs tree heads. In development a "
        "key is generated once into the data directory; in production it must be set.",
    )
    tree_head_interval_seconds: int = Field(
        60,
        ge=1,
        description="How often the worker signs and stores a tree head when the ledger grew.",
    )
    witness: str = Field(
        "",
        description="Where every signed tree head is also published, outside the database, for "
        "`citybase ledger verify` to hold the ledger to. Empty: the directory "
        "<home>/ledger-witness. A directory path (file:///… or /…): tree-heads.jsonl there; put "
        "it on another mount or host. `nats`: the JetStream stream <bus stream>_LEDGER_WITNESS "
        "on the bus's server; nats://host:4222: that stream on another server. NATS only when "
        "the bus is NATS.",
    )


class MaskingSettings(BaseModel):
    key: str | None = Field(
        None,
        description="Masking key (32 bytes, hex) behind keyed hashes, reversible pseudonyms and "
        "the access log's data-subject index. In development a key is generated once into the "
        "data directory; in production it must be set, and changing it changes every pseudonym.",
    )


class SharingSettings(BaseModel):
    subject_index_seconds: int = Field(
        30,
        ge=1,
        description="How often the worker files the data subjects of recent shared reads into the "
        "subject index (until then a look-up also searches the recent reads).",
    )


class QualitySettings(BaseModel):
    run_every_hours: int = Field(
        24, ge=1, description="How often each resource's quality rules run on the schedule."
    )
    check_seconds: int = Field(
        600,
        ge=10,
        description="How often the worker looks for quality runs due and overdue disputes.",
    )
    dispute_days: int = Field(5, ge=1, description="Days a provider has to answer a data dispute.")


class BaselibSettings(BaseModel):
    match_threshold: float = Field(
        0.99, gt=0, lt=1,
        description="Match probability at or above which two records are joined into one "
        "person's or enterprise's file.",
    )  # fmt: skip
    review_threshold: float = Field(
        0.5, gt=0, lt=1,
        description="Match probability from which a pair below the match threshold goes to the "
        "stewards' review queue.",
    )  # fmt: skip
    steward_unit: str = Field(
        "",
        description="The unit whose data stewards run the base libraries and decide their "
        "review queue (empty: platform admins only).",
    )
    disputes_per_run: int = Field(
        50, ge=0, le=10_000,
        description="The most quality disputes one linkage run raises about conflicting values.",
    )  # fmt: skip
    theme_check_seconds: int = Field(
        600, ge=10,
        description="How often the scheduler looks for theme libraries (主题库) due for a rebuild.",
    )  # fmt: skip
    backend: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description="The engine full linkage runs train and score on: DuckDB in the process, or "
        "Spark (pyspark, the spark extra, and Java) when a city outgrows one machine. "
        "Incremental links from the bus always run on DuckDB.",
    )
    spark_master: str = Field(
        "local[2]",
        description="The Spark master the linkage connects to when the backend is spark "
        "(local[N]: N threads in this process; spark://host:7077, yarn, k8s://…: a cluster).",
    )
    spark_checkpoint_dir: str = Field(
        "",
        description="Where Spark writes the linkage's intermediate tables as parquet (storage "
        "every executor reaches, e.g. hdfs://…; empty: kept in memory, enough in local mode).",
    )
    spark_partitions: int = Field(
        0, ge=0, le=100_000,
        description="Spark shuffle partitions of a linkage run (0: two per core in local mode, "
        "the cluster's spark.sql.shuffle.partitions otherwise).",
    )  # fmt: skip


class ProductsSettings(BaseModel):
    bureau_unit: str = Field(
        "",
        description="The unit whose data stewards grant operation agreements and review, list "
        "and delist data products (empty: platform admins only).",
    )
    sample_rows: int = Field(
        5, ge=0, le=20,
        description="How many masked rows a listed product's sample shows before any contract "
        "(0: none).",
    )  # fmt: skip
    transfer_token_hours: int = Field(
        24, ge=1, le=720,
        description="How long the token in a Dataspace Protocol transfer's data address is "
        "valid, in hours (never beyond the contract's term).",
    )  # fmt: skip


class SandboxSettings(BaseModel):
    job_max_seconds: int = Field(
        600, ge=10, le=3600,
        description="The longest time limit (wall and CPU, in seconds) an analyst may give a "
        "sandbox code job; jobs run in the background worker.",
    )  # fmt: skip


class FilesSettings(BaseModel):
    store: Literal["directory", "database"] = Field(
        "directory",
        description="Where attached files are kept: directory (<home>/files) or database (for "
        "several servers with no shared disk).",
    )
    max_megabytes: float = Field(20, gt=0, le=500, description="The largest file taken, in MB.")
    max_pixels: int = Field(
        60_000_000, ge=1_000_000, description="The largest picture taken (width × height)."
    )


class OneThingSettings(BaseModel):
    offer_seconds: int = Field(
        86_400, ge=60,
        description="How often the platform looks for persons the data says qualify for a "
        "one-thing item unasked (免申即办) and offers it to them.",
    )  # fmt: skip


class CockpitSettings(BaseModel):
    update_day: int = Field(
        5,
        ge=1,
        le=28,
        description="Day of the month by which units send last month's task updates.",
    )
    measure_every_hours: int = Field(
        6,
        ge=1,
        description="How often the platform looks for a closed month whose measured indicators "
        "do not hold their figure yet (each month is measured once, then reviewed).",
    )


class EvaluationSettings(BaseModel):
    rectify_workdays: int = Field(
        5,
        ge=1,
        le=60,
        description="Working days a unit has to rectify a bad rating (差评整改) and answer; local "
        "好差评 plans set 5 working days.",
    )
    sweep_minutes: int = Field(
        15, ge=1, description="How often the worker looks for rectifications past their deadline."
    )


class HubSettings(BaseModel):
    case_prefix: str = Field(
        "FZ", pattern=r"^[A-Z]{0,6}$", description="Letters before every case number."
    )
    auto_dispatch_confidence: float = Field(
        0.85,
        gt=0,
        le=1.01,
        description="A case whose suggested category has at least this confidence is dispatched "
        "without an operator (above 1: never), when the model was trained without a target "
        "accuracy (from a file); a model trained by the platform's learning has its own.",
    )
    auto_dispatch_accuracy: float = Field(
        0.95,
        gt=0,
        le=1,
        description="Dispatch learning: the accuracy the cases dispatched without a person must "
        "reach; each model's confidence threshold is chosen for it out of fold (none reaching "
        "it: every case goes to a person).",
    )
    dispatch_model: str = Field(
        "cases", description="The classifier (in <home>/models) that suggests a case's category."
    )
    duplicate_hours: int = Field(
        72, ge=1, description="How far back intake looks for the same matter at the same place."
    )
    duplicate_similarity: float = Field(
        0.5, gt=0, le=1, description="Text similarity (character bigrams) that flags a duplicate."
    )
    warn_fraction: float = Field(
        0.25,
        gt=0,
        lt=1,
        description="A stage turns yellow when less than this share of its time is left.",
    )
    sweep_minutes: int = Field(
        5, ge=1, description="How often the worker looks for cases turning yellow or red."
    )
    hotspot_window_hours: int = Field(
        24, ge=1, description="Hot spots: the window in which similar cases are counted."
    )
    hotspot_baseline_days: int = Field(
        28, ge=1, description="Hot spots: how far back the usual count per window is taken."
    )
    hotspot_min_cases: int = Field(
        5, ge=2, description="Hot spots: the fewest cases of one kind in one district to raise one."
    )
    hotspot_ratio: float = Field(
        3.0, gt=1, description="Hot spots: how many times the usual count the window must reach."
    )
    hotspot_p_value: float = Field(
        0.001,
        ge=0,
        lt=1,
        description="Hot spots: how unlikely the window's count must be at the usual rate "
        "(Poisson tail probability); 0 leaves the minimum and the ratio alone to decide.",
    )
    retrain_hours: int = Field(
        168,
        ge=1,
        description="How often a challenger to the category classifier is trained from closed "
        "cases and corrections, and promoted when it beats the champion.",
    )
    retrain_window_days: int = Field(
        180,
        ge=1,
        description="Dispatch learning: the days of closed cases a challenger learns from.",
    )
    holdout_days: int = Field(
        14,
        ge=1,
        description="Dispatch learning: the most recent days, learned by neither model, on which "
        "champion and challenger are compared.",
    )
    retrain_search: bool = Field(
        True,
        description="Dispatch learning: choose a challenger's character n-gram range and class "
        "weighting by cross-validation within its training window (three stratified folds).",
    )
    promote_margin_f1: float = Field(
        0.01,
        ge=0,
        le=1,
        description="Dispatch learning: how much higher a challenger's macro-F1 must be to replace "
        "the champion, for a model whose margins the quality team has not set (console or API).",
    )
    promote_margin_routed: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Dispatch learning: how much higher a challenger's share of cases routed "
        "without a later correction must be to replace the champion, for a model whose margins "
        "the quality team has not set (console or API).",
    )
    portal_submissions_per_hour: int = Field(
        20,
        ge=0,
        description="Citizen portal: requests one client address may send in an hour (0: no "
        "limit).",
    )
    portal_submissions_per_phone: int = Field(
        10, ge=0, description="Citizen portal: requests one phone number may send in a day."
    )
    portal_lookups_per_hour: int = Field(
        60,
        ge=0,
        description="Citizen portal: look-ups of a case (and ratings) one client address may make "
        "in an hour.",
    )
    portal_captcha: bool = Field(
        True,
        description="Citizen portal: a request is sent with the code of a picture (图形验证码).",
    )
    portal_wrong_phones: int = Field(
        5,
        ge=0,
        description="Citizen portal: look-ups of one case number with a phone that is not its "
        "own, in an hour, before that number is refused until the hour is out.",
    )


class PerceptionSettings(BaseModel):
    mqtt_url: str = Field(
        "",
        description="Empty: no MQTT ingestion. mqtt://host:1883 subscribes to device readings "
        "there (needs the [mqtt] extra); `citybase serve` and `citybase perception mqtt` run it.",
    )
    mqtt_client_id: str = Field(
        "citybase-ingest",
        description="The ingestor's MQTT client id: its session keeps unacknowledged readings "
        "for it across restarts.",
    )
    json_topic: str = Field(
        "citybase/{device_id}/attrs", description="Topic of JSON readings; {device_id} marks the id"
    )
    ul_topic: str = Field(
        "citybase/ul/{device_id}/attrs",
        description="Topic of UltraLight 2.0 readings (a|1.5|b|20); {device_id} marks the id",
    )
    mqtt_share_group: str = Field(
        "",
        pattern=r"^[A-Za-z0-9_.-]{0,64}$",
        description="Empty: the ingestor subscribes alone. A name: ingestors subscribe through "
        "the MQTT 5 shared subscription $share/<name>/<topic>, the broker handing each message "
        "to one of them (each ingestor needs its own mqtt_client_id).",
    )
    mqtt_acl_dir: str = Field(
        "",
        description="A folder where the broker's password file (passwd) and ACL file (acl) are "
        "written again from the device register whenever a device changes; empty: not written "
        "by themselves (`citybase perception mqtt-acl --out DIR` writes them).",
    )
    mqtt_broker_pid_file: str = Field(
        "",
        description="Mosquitto's pid file: the broker is sent SIGHUP after its files are "
        "written, so that it reads them again; empty: not signalled.",
    )
    batch_size: int = Field(
        500, ge=1, description="MQTT readings stored in one transaction, at most"
    )
    batch_ms: int = Field(100, ge=1, description="How long a batch of MQTT readings may wait")
    notification_hosts: str = Field(
        "",
        description="Hosts NGSI-LD subscriptions may notify, comma-separated (a leading '.' "
        "allows a domain's hosts); empty: any host.",
    )
    notification_attempts: int = Field(
        6,
        ge=1,
        description="Attempts to deliver one NGSI-LD notification before it is given up (the "
        "subscription's timesFailed and lastFailure tell of each failed one).",
    )
    notification_retry_seconds: float = Field(
        5.0,
        gt=0,
        description="Wait before a failed NGSI-LD notification is tried again; doubled after "
        "each further failure, up to an hour.",
    )
    entity_read: Literal["platform", "unit"] = Field(
        "platform",
        description="Who reads NGSI-LD entities, their history and subscriptions' matches: "
        "platform — every signed-in user allowed to see perception data; unit — each unit its "
        "own entities only (and those of the public types). Only the owning unit (or a "
        "platform administrator) ever changes an entity.",
    )
    public_entity_types: str = Field(
        "",
        description="NGSI-LD entity types anyone may read without signing in (open context "
        "data), comma-separated: short names of the core context's default vocabulary or full "
        "type IRIs. Empty: none.",
    )
    temporal_limit: int = Field(
        10_000,
        ge=1,
        description="Instances one NGSI-LD temporal answer holds at most, over all its entities "
        "and attributes: beyond it the answer is cut in time and comes as 206 Partial Content "
        "with a Content-Range.",
    )
    source_timeout_seconds: float = Field(
        5.0,
        gt=0,
        le=120,
        description="How long a distributed NGSI-LD query or retrieval waits for a registered "
        "context source whose registration names no management.timeout; a source that has not "
        "answered by then is left out of the answer and named in an NGSILD-Warning header.",
    )
    broker_name: str = Field(
        "",
        max_length=100,
        description="This broker's name in the Via header of the NGSI-LD requests it forwards "
        "to context sources (a request that already passed through it is answered from its own "
        "store, which breaks loops). Empty: derived from the database URL, the same for every "
        "process of one deployment and different between deployments.",
    )


class FederationSettings(BaseModel):
    """District brains as their own deployments, exchanging with the city's over NATS JetStream."""

    role: Literal["off", "city", "district"] = Field(
        "off",
        description="The part this deployment plays in the federation of brains: off (one "
        "database for the city and its districts), city (the city's brain, exchanging with the "
        "districts named in DISTRICTS), or district (a district's own brain, DISTRICT_CODE).",
    )
    district_code: str = Field(
        "", max_length=20, description="Role district: the division code of this district."
    )
    districts: list[str] = Field(
        [],
        description="Role city: the division codes of the districts that run their own brain "
        "(a JSON list). A case the city dispatches to a unit of one of them is sent down to it.",
    )
    nats_url: str = Field(
        "nats://127.0.0.1:4222", description="The NATS server (with JetStream) of the exchange."
    )
    stream: str = Field(
        "CITYBASE_FEDERATION", description="The JetStream stream every brain's messages go through."
    )
    subject_root: str = Field(
        "citybase.federation",
        pattern=r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$",
        description="The first tokens of every subject of the exchange (then v1.<district>."
        "<up|down>.<kind>); two federations on one NATS server keep apart by it.",
    )
    max_age_days: int = Field(
        30,
        ge=1,
        description="How long the stream keeps a message: a side cut off for longer loses what "
        "was sent to it in the meantime (the sender's outbox still has it).",
    )
    duplicate_window_seconds: int = Field(
        3600,
        ge=1,
        description="JetStream's duplicate window: a message published again with the same "
        "Nats-Msg-Id within it is dropped by the server (the receiver also drops it by its id).",
    )
    rollup_seconds: int = Field(
        300, ge=1, description="Role district: how often the district's figures are sent up."
    )
    poll_seconds: float = Field(
        1.0, gt=0, description="How often the bridge looks for messages to send and receive."
    )

    @model_validator(mode="after")
    def _check_role(self) -> FederationSettings:
        if self.role == "district" and not self.district_code:
            raise ValueError("CITYBASE_FEDERATION__DISTRICT_CODE: a district's deployment names "
                             "its district")  # fmt: skip
        if self.role == "city" and not self.districts:
            raise ValueError("CITYBASE_FEDERATION__DISTRICTS: the city names the districts that "
                             "run their own brain")  # fmt: skip
        return self


class BusSettings(BaseModel):
    stream: str = Field("CITYBASE", description="JetStream stream name when the bus is NATS.")
    max_attempts: int = Field(
        10, ge=1, description="Deliveries of one event to one consumer before it is parked."
    )


class WorkerSettings(BaseModel):
    poll_seconds: float = Field(1.0, gt=0, description="How often the worker looks for due work.")
    lease_seconds: int = Field(
        300, ge=1, description="How long a claimed job is reserved for one worker."
    )
    health_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Port on which `citybase worker` answers /healthz (liveness: its loop turns) "
        "and /readyz (readiness: the database, the bus and the broker answer). 0: no port.",
    )
    health_host: str = Field(
        "127.0.0.1",
        description="Address the worker's health port listens on (0.0.0.0 in a container).",
    )
    stale_seconds: int = Field(
        120,
        ge=5,
        description="The worker is reported dead (/healthz 503) when its loop has not turned "
        "for this long (a job running longer than this counts as turning).",
    )


class SharedSettings(BaseModel):
    backend: Literal["database", "redis"] = Field(
        "database",
        description="Where what every process must share is kept — the portal's rate limits, "
        "sign-in throttles, spent picture codes, NGSI-LD throttles: `database` (a SQLite file "
        "shared.db in the data directory beside a SQLite database, else the platform's "
        "PostgreSQL database) or `redis`.",
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Redis URL when the shared backend is redis."
    )
    redis_prefix: str = Field(
        "citybase:",
        description="Prefix of every Redis key this platform writes (several cities on one Redis "
        "each take their own).",
    )


class SmsSettings(BaseModel):
    gateway: Literal["log", "http"] = Field(
        "log",
        description="How text messages (短信) leave the platform: `log` keeps each one in the "
        "SMS log that platform admins read on the console (the demo, tests, a city without an "
        "SMS platform yet); `http` posts each one to the city's SMS platform at `http_url`.",
    )
    http_url: str = Field(
        "",
        description="The city's SMS platform: each message is POSTed there as JSON "
        '(`{"phone": …, "text": …, "sign": …}`); a 2xx answer means taken. The address is '
        "checked by the outbound policy (`web.outbound_allow` names an address inside).",
    )
    http_token: str = Field(
        "", description="Sent as `Authorization: Bearer …` to the SMS platform (empty: none)."
    )
    sign: str = Field("榕城政务", max_length=20, description="The sender's signature (短信签名).")
    timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="How long one post to the SMS platform may take."
    )
    max_attempts: int = Field(
        5, ge=1, le=20, description="Posts of one message before it is given up as failed."
    )
    retry_seconds: int = Field(
        30, ge=1, description="Wait before the first retry of a message; doubled each time."
    )


class PortalSettings(BaseModel):
    code_minutes: int = Field(
        5, ge=1, le=30, description="How long a sign-in code sent by SMS stays valid."
    )
    code_tries: int = Field(
        5, ge=1, le=10, description="Wrong entries of one sign-in code before it is void."
    )
    codes_per_phone_hour: int = Field(
        5, ge=0, description="Sign-in codes sent to one mobile number in an hour (0: no limit)."
    )
    codes_per_phone_day: int = Field(
        10, ge=0, description="Sign-in codes sent to one mobile number in a day (0: no limit)."
    )
    codes_per_address_hour: int = Field(
        20, ge=0,
        description="Sign-in codes asked for from one client address in an hour (0: no limit).",
    )  # fmt: skip
    checks_per_address_hour: int = Field(
        10, ge=0,
        description="Real-name checks (实名核验) from one client address in an hour (0: no limit).",
    )  # fmt: skip
    checks_per_number_day: int = Field(
        5, ge=0,
        description="Real-name checks of one citizen ID in a day, right or wrong (0: no limit).",
    )  # fmt: skip


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITYBASE_", env_nested_delimiter="__", extra="ignore"
    )

    mode: Mode = Field(Mode.development, description="development or production.")
    home: Path = Field(default_factory=default_home, description="The data directory.")
    database_url: str = Field(
        "",
        description="SQLAlchemy URL. Empty: a SQLite file citybase.db in the data directory. "
        "postgresql+psycopg://… runs the same code and migrations on PostgreSQL.",
    )
    bus_url: str = Field(
        "",
        description="Empty: events are delivered in-process. nats://host:4222 delivers them "
        "through NATS JetStream so that several processes share one stream.",
    )
    city_code: str = Field("350100", description="Division code of the city this platform runs.")
    web: WebSettings = Field(default_factory=WebSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    masking: MaskingSettings = Field(default_factory=MaskingSettings)
    sharing: SharingSettings = Field(default_factory=SharingSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    baselib: BaselibSettings = Field(default_factory=BaselibSettings)
    products: ProductsSettings = Field(default_factory=ProductsSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    files: FilesSettings = Field(default_factory=FilesSettings)
    cockpit: CockpitSettings = Field(default_factory=CockpitSettings)
    onething: OneThingSettings = Field(default_factory=OneThingSettings)
    hub: HubSettings = Field(default_factory=HubSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    perception: PerceptionSettings = Field(default_factory=PerceptionSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    federation: FederationSettings = Field(default_factory=FederationSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    shared: SharedSettings = Field(default_factory=SharedSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    portal: PortalSettings = Field(default_factory=PortalSettings)

    @model_validator(mode="after")
    def _check_witness(self) -> Settings:
        witness = self.ledger.witness.strip()
        if (witness == "nats" or witness.startswith(("nats://", "tls://"))) and not (
            self.bus_url.startswith(("nats://", "tls://"))
        ):
            raise ValueError(
                "CITYBASE_LEDGER__WITNESS: a NATS witness needs the bus on NATS "
                "(CITYBASE_BUS_URL=nats://…); use a directory otherwise"
            )
        return self

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.mode is Mode.production:
            missing = [
                name
                for name, value in (
                    ("CITYBASE_LEDGER__SIGNING_KEY", self.ledger.signing_key),
                    ("CITYBASE_MASKING__KEY", self.masking.key),
                    ("CITYBASE_DATABASE_URL", self.database_url),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"production mode needs {', '.join(missing)} to be set")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'citybase.db'}"

    @property
    def secure_cookies(self) -> bool:
        if self.web.cookie_secure is None:
            return self.mode is Mode.production
        return self.web.cookie_secure

    def local_secret(self, name: str, nbytes: int = 32) -> str:
        """A development secret kept in the data directory, created on first use."""
        path = self.home / "secrets" / name
        if path.exists():
            return path.read_text().strip()
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(nbytes)
        path.write_text(value)
        path.chmod(0o600)
        return value

    @property
    def ledger_signing_key(self) -> str:
        return self.ledger.signing_key or self.local_secret("ledger_signing_key")

    @property
    def masking_key(self) -> str:
        return self.masking.key or self.local_secret("masking_key")


def settings_reference() -> str:
    """Every setting as a Markdown table: environment variable, default, description."""
    lines = [
        "| environment variable | default | what it is |",
        "|---|---|---|",
    ]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name.upper()}__")
                continue
            if name == "home":
                default = "`~/.citybase`"
            elif field.default is None or field.default == "":
                default = "(none)"
            else:
                default = f"`{getattr(field.default, 'value', field.default)}`"
            lines.append(f"| `{prefix}{name.upper()}` | {default} | {field.description} |")

    walk(Settings, "CITYBASE_")
    return "\n".join(lines) + "\n"
