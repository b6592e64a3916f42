-- Per-brand rollups in 15-minute slots: what brand trends over long ranges
-- read instead of every mention row (a year of one brand is ~35,000 slots
-- instead of hundreds of thousands of mentions joined to sentiments).
--
-- Slots are 15 minutes so that a slot never straddles a local hour, day or week
-- boundary in any time zone in use today (every UTC offset is a multiple of
-- 15 minutes: India +5:30, Nepal +5:45, Chatham +12:45): bucketing a slot by
-- its start in the configured zone gives exactly the raw rows' buckets.
--
-- Only the store maintains them, in the transactions that change what they
-- count: storing posts with their mentions (volume), storing analysis results
-- and resetting them for re-analysis (sentiment, per model id). Nothing else
-- deletes mentions or sentiments. `brandpulse admin rebuild-rollups` recomputes
-- both from the raw tables if they are ever in doubt.

-- Mentions per brand and slot (model-independent).
CREATE TABLE brand_volume_slots (
    brand_id bigint      NOT NULL REFERENCES brands (id),
    -- Slot start: date_bin('15 minutes', mentioned_at, '2000-01-01 00:00:00+00').
    slot     timestamptz NOT NULL,
    mentions bigint      NOT NULL CHECK (mentions >= 0),
    PRIMARY KEY (brand_id, slot)
);

-- Mentions per brand, model id and slot whose post that model scored, by label.
CREATE TABLE brand_sentiment_slots (
    brand_id bigint      NOT NULL REFERENCES brands (id),
    model_id text        NOT NULL CHECK (model_id <> ''),
    slot     timestamptz NOT NULL,
    positive bigint      NOT NULL CHECK (positive >= 0),
    neutral  bigint      NOT NULL CHECK (neutral >= 0),
    negative bigint      NOT NULL CHECK (negative >= 0),
    PRIMARY KEY (brand_id, model_id, slot)
);

INSERT INTO brand_volume_slots (brand_id, slot, mentions)
SELECT brand_id, date_bin('15 minutes', mentioned_at, '2000-01-01 00:00:00+00'), count(*)
FROM mentions
GROUP BY 1, 2;

INSERT INTO brand_sentiment_slots (brand_id, model_id, slot, positive, neutral, negative)
SELECT m.brand_id, s.model_id, date_bin('15 minutes', m.mentioned_at, '2000-01-01 00:00:00+00'),
       count(*) FILTER (WHERE s.label = 'positive'),
       count(*) FILTER (WHERE s.label = 'neutral'),
       count(*) FILTER (WHERE s.label = 'negative')
FROM mentions m JOIN sentiments s ON s.post_id = m.post_id AND s.status = 'scored'
GROUP BY 1, 2, 3;
