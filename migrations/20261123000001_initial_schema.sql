-- brandpulse initial schema.
--
-- Conventions:
--   * every timestamp is timestamptz (stored UTC);
--   * enums are text with a CHECK, so a later migration can widen them without
--     an ALTER TYPE dance;
--   * history is never deleted by configuration changes: brands and sources
--     removed from the config are disabled, products missing from a catalog
--     import are marked discontinued;
--   * time columns are copied onto mentions and product_mentions so the
--     "by brand/product and time" queries of digests and trends are served by
--     one index each, without joining posts.

-- Watched brands (own and competitors), synced from the config by name.
CREATE TABLE brands (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text        NOT NULL CHECK (btrim(name) <> ''),
    aliases           text[]      NOT NULL CHECK (cardinality(aliases) > 0),
    exclusions        text[]      NOT NULL DEFAULT '{}',
    context_terms     text[]      NOT NULL DEFAULT '{}',
    ambiguous_aliases text[]      NOT NULL DEFAULT '{}',
    context_window    integer     NOT NULL DEFAULT 12 CHECK (context_window BETWEEN 1 AND 200),
    competitor        boolean     NOT NULL DEFAULT false,
    enabled           boolean     NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- Names are unique ignoring case, so renaming "Acme" to "ACME" in the config
-- updates the brand instead of creating a second one.
CREATE UNIQUE INDEX brands_name_key ON brands (lower(name));

-- The product catalog. Upserted by SKU from `catalog import`; never deleted.
CREATE TABLE products (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku             text        NOT NULL UNIQUE CHECK (sku <> '' AND sku = btrim(sku)),
    name            text        NOT NULL CHECK (btrim(name) <> ''),
    brand_id        bigint      NOT NULL REFERENCES brands (id),
    category        text        CHECK (category IS NULL OR btrim(category) <> ''),
    -- Aliases from the catalog file; replaced by each import.
    aliases         text[]      NOT NULL DEFAULT '{}',
    -- Aliases added by hand (`catalog alias`); an import never touches them.
    manual_aliases  text[]      NOT NULL DEFAULT '{}',
    url             text,
    attributes      jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    -- NULL while the product is in the catalog; set when an import no longer lists it.
    discontinued_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_brand_idx ON products (brand_id);
CREATE INDEX products_category_idx ON products (category) WHERE category IS NOT NULL;

-- Where posts come from, with the fetch state the scheduler keeps per source.
CREATE TABLE sources (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                 text        NOT NULL CHECK (btrim(name) <> ''),
    kind                 text        NOT NULL CHECK (kind IN ('feed', 'hackernews', 'mastodon', 'reddit', 'lemmy', 'bluesky', 'html')),
    url                  text,
    query                text,
    -- Kind-specific settings from the config; never holds secrets.
    params               jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    schedule             text        NOT NULL CHECK (btrim(schedule) <> ''),
    enabled              boolean     NOT NULL DEFAULT true,
    -- Conditional GET validators, sent back on the next fetch.
    etag                 text,
    last_modified        text,
    next_due             timestamptz NOT NULL DEFAULT now(),
    consecutive_failures integer     NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    last_error           text,
    last_fetched_at      timestamptz,
    last_success_at      timestamptz,
    -- Lease so several daemons can share one database without fetching a
    -- source twice; an expired lease is free to take.
    lease_owner          text,
    lease_until          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((lease_owner IS NULL) = (lease_until IS NULL)),
    CHECK (url IS NOT NULL OR query IS NOT NULL)
);
CREATE UNIQUE INDEX sources_name_key ON sources (lower(name));
-- The scheduler asks "which enabled sources are due" on every tick.
CREATE INDEX sources_due_idx ON sources (next_due) WHERE enabled;

-- One row per fetch attempt: the audit trail behind source health.
CREATE TABLE fetch_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id    bigint      NOT NULL REFERENCES sources (id),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text        NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'ok', 'not_modified', 'failed')),
    http_status  integer     CHECK (http_status BETWEEN 100 AND 599),
    bytes        bigint      CHECK (bytes >= 0),
    items_seen   integer     NOT NULL DEFAULT 0 CHECK (items_seen >= 0),
    new_posts    integer     NOT NULL DEFAULT 0 CHECK (new_posts >= 0),
    new_mentions integer     NOT NULL DEFAULT 0 CHECK (new_mentions >= 0),
    error        text,
    CHECK (finished_at IS NULL OR finished_at >= started_at),
    CHECK ((status = 'running') = (finished_at IS NULL)),
    CHECK (status <> 'failed' OR error IS NOT NULL)
);
CREATE INDEX fetch_runs_source_time_idx ON fetch_runs (source_id, started_at DESC);

-- One row per distinct post (deduplicated by source id and by content).
CREATE TABLE posts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id         bigint      NOT NULL REFERENCES sources (id),
    external_id       text        NOT NULL CHECK (external_id <> ''),
    url               text,
    -- The handle as published, or its keyed hash when privacy.hash_author_handles is on.
    author            text,
    title             text,
    -- Normalised text; blanked by retention (text_purged_at set) while the
    -- analysis results that digests and trends need stay.
    body              text        NOT NULL,
    lang              text        CHECK (lang IS NULL OR lang ~ '^([a-z]{2,3}|unknown)$'),
    lang_confidence   real        CHECK (lang_confidence BETWEEN 0 AND 1),
    published_at      timestamptz,
    fetched_at        timestamptz NOT NULL DEFAULT now(),
    engagement        jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(engagement) = 'object'),
    -- SHA-256 of the normalised text: a syndicated copy or cross-post is stored once.
    content_hash      bytea       NOT NULL UNIQUE CHECK (octet_length(content_hash) = 32),
    -- The model id of the latest analysis; NULL until the analyser has read it.
    analysed_model_id text,
    text_purged_at    timestamptz,
    UNIQUE (source_id, external_id)
);
-- Serves "posts not yet analysed by model M":
--   analysed_model_id IS NULL OR analysed_model_id < M OR analysed_model_id > M
-- is three index range scans, so the analyser never walks the analysed history.
CREATE INDEX posts_analysis_idx ON posts (analysed_model_id, id);
CREATE INDEX posts_published_idx ON posts (published_at);

-- Post x brand, with the terms that matched and where.
CREATE TABLE mentions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id       bigint      NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    brand_id      bigint      NOT NULL REFERENCES brands (id),
    -- The post's time (published, else fetched), copied here for the index below.
    mentioned_at  timestamptz NOT NULL,
    matched_terms text[]      NOT NULL CHECK (cardinality(matched_terms) > 0),
    -- [{"term": ..., "start": byte offset, "end": byte offset}, ...]
    matches       jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(matches) = 'array'),
    UNIQUE (post_id, brand_id)
);
CREATE INDEX mentions_brand_time_idx ON mentions (brand_id, mentioned_at);

-- Post-level sentiment, one row per (post, model): a new model re-scores
-- history without mixing its results with the old model's.
CREATE TABLE sentiments (
    post_id       bigint      NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    model_id      text        NOT NULL CHECK (model_id <> ''),
    -- 'skipped_language': the post's language is not one the model was trained for.
    status        text        NOT NULL CHECK (status IN ('scored', 'skipped_language', 'skipped_empty')),
    label         text        CHECK (label IN ('negative', 'neutral', 'positive')),
    score         real        CHECK (score BETWEEN 0 AND 1),
    -- [negative, neutral, positive]
    probabilities real[]      CHECK (probabilities IS NULL OR cardinality(probabilities) = 3),
    chunks        integer     CHECK (chunks >= 1),
    analysed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, model_id),
    CHECK ((status = 'scored') = (label IS NOT NULL AND score IS NOT NULL AND probabilities IS NOT NULL))
);
CREATE INDEX sentiments_model_idx ON sentiments (model_id, post_id);

-- Post x catalog product, per model: link, targeted sentiment and evidence.
CREATE TABLE product_mentions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id         bigint      NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    product_id      bigint      NOT NULL REFERENCES products (id),
    model_id        text        NOT NULL CHECK (model_id <> ''),
    mentioned_at    timestamptz NOT NULL,
    span_start      integer     NOT NULL CHECK (span_start >= 0),
    span_end        integer     NOT NULL,
    surface         text        NOT NULL CHECK (surface <> ''),
    link_confidence real        NOT NULL CHECK (link_confidence BETWEEN 0 AND 1),
    link_rule       text        NOT NULL CHECK (link_rule <> ''),
    sentiment       text        CHECK (sentiment IN ('negative', 'neutral', 'positive')),
    sentiment_score real        CHECK (sentiment_score BETWEEN 0 AND 1),
    -- The sentence(s) the targeted sentiment was read from.
    evidence        text        NOT NULL,
    CHECK (span_end > span_start),
    CHECK ((sentiment IS NULL) = (sentiment_score IS NULL)),
    UNIQUE (post_id, model_id, product_id, span_start)
);
CREATE INDEX product_mentions_product_time_idx ON product_mentions (product_id, mentioned_at);

-- Aspects (battery, camera, ...) found in a product mention's sentence.
CREATE TABLE product_mention_aspects (
    product_mention_id bigint NOT NULL REFERENCES product_mentions (id) ON DELETE CASCADE,
    aspect             text   NOT NULL CHECK (aspect <> ''),
    sentiment          text   NOT NULL CHECK (sentiment IN ('negative', 'neutral', 'positive')),
    PRIMARY KEY (product_mention_id, aspect)
);
CREATE INDEX product_mention_aspects_aspect_idx ON product_mention_aspects (aspect);

-- Product-like names the catalog does not have yet: the content team's early signal.
CREATE TABLE unlinked_entities (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    brand_id        bigint      REFERENCES brands (id),
    -- Case- and space-folded key that sightings are counted under.
    normalized      text        NOT NULL CHECK (normalized <> ''),
    -- The form people write most recently.
    surface         text        NOT NULL CHECK (surface <> ''),
    mention_count   bigint      NOT NULL DEFAULT 0 CHECK (mention_count >= 0),
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    example_post_id bigint      REFERENCES posts (id) ON DELETE SET NULL,
    CHECK (last_seen >= first_seen)
);
-- One entity per (brand or none, name). PostgreSQL 14 has no NULLS NOT DISTINCT.
CREATE UNIQUE INDEX unlinked_entities_key_idx ON unlinked_entities (COALESCE(brand_id, 0), normalized);

-- Each post counts once per entity, so re-analysis never inflates the counts,
-- and growth can be computed over any window.
CREATE TABLE unlinked_entity_sightings (
    entity_id bigint      NOT NULL REFERENCES unlinked_entities (id) ON DELETE CASCADE,
    post_id   bigint      NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    seen_at   timestamptz NOT NULL,
    PRIMARY KEY (entity_id, post_id)
);
CREATE INDEX unlinked_entity_sightings_time_idx ON unlinked_entity_sightings (seen_at);

-- The daily digest, one per brand and day (the day in the digest's time zone).
CREATE TABLE digests (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    brand_id     bigint      NOT NULL REFERENCES brands (id),
    day          date        NOT NULL,
    model_id     text        NOT NULL CHECK (model_id <> ''),
    stats        jsonb       NOT NULL CHECK (jsonb_typeof(stats) = 'object'),
    markdown     text        NOT NULL,
    html         text        NOT NULL,
    generated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (brand_id, day)
);

-- Every attempt to deliver a digest, so a failed delivery is never lost silently.
CREATE TABLE digest_deliveries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest_id    bigint      NOT NULL REFERENCES digests (id) ON DELETE CASCADE,
    target       text        NOT NULL CHECK (target <> ''),
    status       text        NOT NULL CHECK (status IN ('delivered', 'failed')),
    attempts     integer     NOT NULL CHECK (attempts >= 1),
    error        text,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    CHECK (status = 'delivered' OR error IS NOT NULL)
);
CREATE INDEX digest_deliveries_digest_idx ON digest_deliveries (digest_id);
