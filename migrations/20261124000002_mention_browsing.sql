-- Browsing mentions newest first (the API's /api/mentions and the dashboard's
-- latest mentions) pages by (mentioned_at, id) without a brand filter too.
CREATE INDEX mentions_time_idx ON mentions (mentioned_at, id);

-- Text search over posts ("simple" configuration: no stemming, any language).
CREATE INDEX posts_text_search_idx ON posts
    USING gin (to_tsvector('simple', COALESCE(title, '') || ' ' || body));
