//! From file bytes to a checked [`Config`], collecting every problem on the way.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use serde::de::DeserializeOwned;
use url::Url;

use super::keypath::KeyPath;
use super::raw::{
    Inline, RawApi, RawBrand, RawDaemon, RawDatabase, RawDelivery, RawDigest, RawFetch, RawLog, RawModel,
    RawPrivacy, RawSource, RawSourceParams,
};
use super::{
    ApiConfig, BrandConfig, Config, DaemonConfig, DatabaseConfig, DeliveryTarget, DigestConfig, DigestFormat,
    Env, FetchConfig, HtmlSelectors, LogConfig, LogFormat, ModelConfig, PrivacyConfig, Problem, SmtpTls,
    SourceConfig, SourceKind, SourceParams, env_keys,
};

/// Every key the file may contain, for "did you mean" hints on unknown keys.
const KNOWN_KEYS: &[&str] = &[
    "database",
    "brands",
    "sources",
    "model",
    "digest",
    "api",
    "privacy",
    "fetch",
    "aspects",
    "url",
    "password_env",
    "password_file",
    "max_connections",
    "connect_timeout",
    "name",
    "aliases",
    "exclusions",
    "context_terms",
    "ambiguous_aliases",
    "context_window",
    "competitor",
    "kind",
    "query",
    "schedule",
    "enabled",
    "params",
    "tags",
    "tag",
    "subreddit",
    "community",
    "max_pages",
    "identifier",
    "app_password_env",
    "app_password_file",
    "selectors",
    "item",
    "title",
    "text",
    "link",
    "author",
    "time",
    "dir",
    "batch_size",
    "threads",
    "time_zone",
    "formats",
    "deliver",
    "path",
    "url_env",
    "url_file",
    "host",
    "port",
    "tls",
    "username",
    "from",
    "to",
    "bind",
    "token_env",
    "token_file",
    "hash_author_handles",
    "hash_key_env",
    "hash_key_file",
    "retention_days",
    "contact_url",
    "timeout",
    "max_body_bytes",
    "per_host_requests_per_minute",
    "per_host_concurrency",
    "daemon",
    "log",
    "instance",
    "tick",
    "max_concurrent_fetches",
    "lease",
    "analysis_workers",
    "shutdown_timeout",
    "digest_catch_up_days",
    "level",
    "format",
];

const HN_TAGS: &[&str] = &["story", "comment", "poll", "pollopt", "show_hn", "ask_hn", "front_page"];

/// Where a problem is: a key of the file, an environment variable, or the file as a whole.
enum Place {
    Key(KeyPath),
    EnvVar(&'static str),
    File(Option<usize>),
}

struct Checker<'a> {
    env: &'a Env,
    base_dir: PathBuf,
    problems: Vec<(Place, String)>,
}

pub(super) fn validate(path: &Path, bytes: &[u8], env: &Env) -> Result<Config, Vec<Problem>> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(vec![Problem {
                key: String::new(),
                line: Some(line),
                message: "the file is not valid UTF-8".into(),
            }]);
        }
    };
    let doc = match toml_edit::Document::parse(text.to_owned()) {
        Ok(doc) => doc,
        Err(e) => {
            let line = e.span().map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            return Err(vec![Problem {
                key: String::new(),
                line,
                message: format!("not valid TOML: {}", e.message().trim()),
            }]);
        }
    };
    let table: toml::Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(e) => {
            return Err(vec![Problem {
                key: String::new(),
                line: None,
                message: format!("not valid TOML: {}", e.message().trim()),
            }]);
        }
    };

    let base_dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let mut checker = Checker { env, base_dir, problems: Vec::new() };
    let config = checker.check(path, table);

    if checker.problems.is_empty()
        && let Some(config) = config
    {
        return Ok(config);
    }
    let mut problems: Vec<Problem> = checker
        .problems
        .into_iter()
        .map(|(place, message)| match place {
            Place::Key(key) => Problem { line: key.line_in(&doc), key: key.to_string(), message },
            Place::EnvVar(name) => Problem { key: format!("{name} (environment)"), line: None, message },
            Place::File(line) => Problem { key: String::new(), line, message },
        })
        .collect();
    // File order; problems without a line (environment) last.
    problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    if problems.is_empty() {
        problems.push(Problem {
            key: String::new(),
            line: None,
            message: "the configuration could not be read (no details)".into(),
        });
    }
    Err(problems)
}

impl Checker<'_> {
    fn problem(&mut self, key: &KeyPath, message: impl Into<String>) {
        self.problems.push((Place::Key(key.clone()), message.into()));
    }

    fn check(&mut self, path: &Path, mut table: toml::Table) -> Option<Config> {
        let mut take = |name: &str| table.remove(name);
        let database = take("database");
        let brands = take("brands");
        let sources = take("sources");
        let model = take("model");
        let digest = take("digest");
        let api = take("api");
        let privacy = take("privacy");
        let fetch = take("fetch");
        let aspects = take("aspects");
        let daemon = take("daemon");
        let log = take("log");
        let mut unknown: Vec<String> = table.keys().cloned().collect();
        unknown.sort();
        for key in unknown {
            let hint = suggestion(&key);
            self.problem(&KeyPath::root(&key), format!("unknown section or key{hint}"));
        }

        let database = self.section::<RawDatabase>(database, "database").and_then(|raw| self.database(raw));
        let brands = self.brands(brands);
        let sources = self.sources(sources);
        let model = self.section::<RawModel>(model, "model").map(|raw| self.model(raw));
        let digest = self.section::<RawDigest>(digest, "digest").and_then(|raw| self.digest(raw));
        let api = self.section::<RawApi>(api, "api").and_then(|raw| self.api(raw));
        let privacy = self.section::<RawPrivacy>(privacy, "privacy").and_then(|raw| self.privacy(raw));
        let any_sources = sources.as_ref().is_some_and(|s| !s.is_empty());
        let fetch = self.section::<RawFetch>(fetch, "fetch").and_then(|raw| self.fetch(raw, any_sources));
        let aspects = self
            .section::<std::collections::BTreeMap<String, Vec<String>>>(aspects, "aspects")
            .and_then(|raw| self.aspects(&raw));
        let daemon = self.section::<RawDaemon>(daemon, "daemon").and_then(|raw| self.daemon(raw));
        let log = self.section::<RawLog>(log, "log").and_then(|raw| self.log(raw));

        Some(Config {
            path: path.to_owned(),
            database: database?,
            brands: brands?,
            sources: sources?,
            model: model??,
            digest: digest?,
            api: api?,
            privacy: privacy?,
            fetch: fetch?,
            aspects: aspects?,
            daemon: daemon?,
            log: log?,
        })
    }

    /// `[aspects]`: aspect name = [synonyms]; replaces the built-in lexicon when given.
    fn aspects(
        &mut self,
        raw: &std::collections::BTreeMap<String, Vec<String>>,
    ) -> Option<crate::products::aspects::AspectLexicon> {
        if raw.is_empty() {
            return Some(crate::products::aspects::AspectLexicon::defaults());
        }
        match crate::products::aspects::AspectLexicon::new(raw) {
            Ok(lexicon) => Some(lexicon),
            Err(e) => {
                self.problem(&KeyPath::root("aspects"), e.to_string());
                None
            }
        }
    }

    /// Deserializes one value, reporting unknown keys and type errors under `path`.
    fn de<T: DeserializeOwned>(&mut self, value: toml::Value, path: &KeyPath) -> Option<T> {
        let mut ignored = Vec::new();
        let mut track = serde_path_to_error::Track::new();
        let result: Result<T, _> = {
            let de = serde_path_to_error::Deserializer::new(value, &mut track);
            serde_ignored::deserialize(de, |p| ignored.push(path.join_ignored(&p)))
        };
        for key in ignored {
            let last = key.to_string().rsplit(['.', ']']).next().unwrap_or_default().to_owned();
            let hint = suggestion(&last);
            self.problem(&key, format!("unknown key{hint}"));
        }
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                let at = path.join_serde(&track.path());
                self.problem(&at, e.to_string());
                None
            }
        }
    }

    /// A whole section; absent means all defaults.
    fn section<T: DeserializeOwned + Default>(
        &mut self,
        value: Option<toml::Value>,
        name: &str,
    ) -> Option<T> {
        match value {
            None => Some(T::default()),
            Some(v @ toml::Value::Table(_)) => self.de(v, &KeyPath::root(name)),
            Some(other) => {
                self.problem(
                    &KeyPath::root(name),
                    format!("must be a table ([{name}]), found a {}", other.type_str()),
                );
                None
            }
        }
    }

    /// An array of tables such as `[[brands]]`: each element checked on its own
    /// so that one bad element does not hide the problems of the others.
    fn array<T: DeserializeOwned>(
        &mut self,
        value: Option<toml::Value>,
        name: &str,
    ) -> Option<Vec<(KeyPath, T)>> {
        let root = KeyPath::root(name);
        let items = match value {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items,
            Some(other) => {
                self.problem(
                    &root,
                    format!("must be an array of tables ([[{name}]]), found a {}", other.type_str()),
                );
                return None;
            }
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.into_iter().enumerate() {
            let path = root.index(i);
            if !item.is_table() {
                self.problem(&path, format!("must be a table, found a {}", item.type_str()));
                ok = false;
                continue;
            }
            match self.de::<T>(item, &path) {
                Some(v) => out.push((path, v)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn database(&mut self, raw: RawDatabase) -> Option<DatabaseConfig> {
        let root = KeyPath::root("database");
        let (text, from_env) = match self.env.get(env_keys::DATABASE_URL) {
            Some(url) => (Some(url.to_owned()), true),
            None => (raw.url.clone(), false),
        };
        let Some(text) = text else {
            self.problem(
                &root.key("url"),
                format!("missing: set database.url (e.g. \"postgres://brandpulse@localhost:5432/brandpulse\") or {}", env_keys::DATABASE_URL),
            );
            return None;
        };
        let mut url = match Url::parse(&text) {
            Ok(url) if matches!(url.scheme(), "postgres" | "postgresql") => url,
            Ok(url) => {
                self.url_problem(
                    from_env,
                    &root,
                    format!("must be a postgres:// URL, not {}://", url.scheme()),
                );
                return None;
            }
            Err(e) => {
                // Never echo the text: it may hold a password.
                self.url_problem(from_env, &root, format!("not a valid URL ({e})"));
                return None;
            }
        };
        let mut password = None;
        if let Some(inline) = url.password().map(str::to_owned) {
            if from_env {
                // A password in the environment is fine; keep it out of the URL we show.
                password = Some(SecretString::from(percent_decode(&inline)));
                let _ = url.set_password(None);
            } else {
                self.problem(
                    &root.key("url"),
                    format!(
                        "contains a password; secrets may not be written in the config file: remove it and use database.password_file or {}",
                        env_keys::DATABASE_PASSWORD
                    ),
                );
                return None;
            }
        }
        let separate = self.secret(
            &root,
            "password",
            &raw.password,
            raw.password_env.as_deref(),
            raw.password_file.as_deref(),
            Some(env_keys::DATABASE_PASSWORD),
            false,
        );
        if password.is_none() {
            password = separate;
        }
        let max_connections = raw.max_connections.unwrap_or(10);
        if !(1..=200).contains(&max_connections) {
            self.problem(&root.key("max_connections"), format!("{max_connections} is out of range 1..=200"));
        }
        let connect_timeout = self.duration(
            &root.key("connect_timeout"),
            raw.connect_timeout.as_deref(),
            Duration::from_secs(5),
        );
        Some(DatabaseConfig { url, password, max_connections, connect_timeout: connect_timeout? })
    }

    fn url_problem(&mut self, from_env: bool, root: &KeyPath, message: String) {
        if from_env {
            self.problems.push((Place::EnvVar(env_keys::DATABASE_URL), message));
        } else {
            self.problem(&root.key("url"), message);
        }
    }

    fn brands(&mut self, value: Option<toml::Value>) -> Option<Vec<BrandConfig>> {
        let raws = self.array::<RawBrand>(value, "brands")?;
        if raws.is_empty() {
            self.problems.push((
                Place::File(None),
                "no brands configured: add at least one [[brands]] table with a name and aliases".into(),
            ));
            return None;
        }
        let mut names: HashMap<String, KeyPath> = HashMap::new();
        let mut alias_owner: HashMap<String, String> = HashMap::new();
        let mut brands = Vec::new();
        for (path, raw) in raws {
            let name = self.required_text(&path.key("name"), raw.name.as_deref(), "brand name");
            if let Some(name) = &name
                && let Some(first) = names.insert(name.to_lowercase(), path.clone())
            {
                self.problem(&path.key("name"), format!("duplicate brand name \"{name}\" (also at {first})"));
            }
            let label = name.clone().unwrap_or_else(|| path.to_string());
            let aliases = self.terms(&path.key("aliases"), raw.aliases);
            if aliases.is_empty() {
                self.problem(
                    &path.key("aliases"),
                    format!("brand \"{label}\" has no aliases: list the terms that mention it, e.g. aliases = [\"{label}\"]"),
                );
            }
            for alias in &aliases {
                let folded = alias.to_lowercase();
                match alias_owner.get(&folded) {
                    Some(owner) if owner != &label => self.problem(
                        &path.key("aliases"),
                        format!("alias \"{alias}\" is also an alias of brand \"{owner}\": a mention could not be attributed"),
                    ),
                    _ => {
                        alias_owner.insert(folded, label.clone());
                    }
                }
            }
            let exclusions = self.terms(&path.key("exclusions"), raw.exclusions);
            let context_terms = self.terms(&path.key("context_terms"), raw.context_terms);
            let ambiguous = self.terms(&path.key("ambiguous_aliases"), raw.ambiguous_aliases);
            for term in &ambiguous {
                if !aliases.iter().any(|a| a.to_lowercase() == term.to_lowercase()) {
                    self.problem(
                        &path.key("ambiguous_aliases"),
                        format!("\"{term}\" is not one of the brand's aliases"),
                    );
                }
            }
            if !ambiguous.is_empty() && context_terms.is_empty() {
                self.problem(
                    &path.key("context_terms"),
                    "ambiguous_aliases need context terms: list words one of which must appear near an ambiguous alias",
                );
            }
            let context_window = raw.context_window.unwrap_or(12);
            if !(1..=200).contains(&context_window) {
                self.problem(
                    &path.key("context_window"),
                    format!("{context_window} is out of range 1..=200 (words)"),
                );
            }
            if let Some(name) = name {
                brands.push(BrandConfig {
                    name,
                    aliases,
                    exclusions,
                    context_terms,
                    ambiguous_aliases: ambiguous,
                    context_window,
                    competitor: raw.competitor,
                });
            }
        }
        if !brands.is_empty() && brands.iter().all(|b| b.competitor) {
            self.problem(
                &KeyPath::root("brands"),
                "every brand is a competitor: at least one must be your own (competitor = false)",
            );
        }
        Some(brands)
    }

    /// A list of non-blank terms, trimmed; blank ones and duplicates reported.
    fn terms(&mut self, path: &KeyPath, raw: Vec<String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (i, term) in raw.into_iter().enumerate() {
            let trimmed = term.trim();
            if trimmed.is_empty() {
                self.problem(&path.index(i), "must not be blank");
            } else if out.iter().any(|t| t.to_lowercase() == trimmed.to_lowercase()) {
                self.problem(&path.index(i), format!("\"{trimmed}\" is listed twice"));
            } else {
                out.push(trimmed.to_owned());
            }
        }
        out
    }

    fn required_text(&mut self, path: &KeyPath, value: Option<&str>, what: &str) -> Option<String> {
        match value.map(str::trim) {
            None => {
                self.problem(path, format!("missing: every entry needs a {what}"));
                None
            }
            Some("") => {
                self.problem(path, format!("the {what} must not be blank"));
                None
            }
            Some(v) => Some(v.to_owned()),
        }
    }

    fn sources(&mut self, value: Option<toml::Value>) -> Option<Vec<SourceConfig>> {
        let raws = self.array::<RawSource>(value, "sources")?;
        let mut names: HashMap<String, KeyPath> = HashMap::new();
        let mut sources = Vec::new();
        let mut ok = true;
        for (path, raw) in raws {
            let name = self.required_text(&path.key("name"), raw.name.as_deref(), "source name");
            if let Some(name) = &name
                && let Some(first) = names.insert(name.to_lowercase(), path.clone())
            {
                self.problem(
                    &path.key("name"),
                    format!("duplicate source name \"{name}\" (also at {first})"),
                );
            }
            match (name, self.source(&path, raw)) {
                (Some(name), Some(mut source)) => {
                    source.name = name;
                    sources.push(source);
                }
                _ => ok = false,
            }
        }
        ok.then_some(sources)
    }

    fn source(&mut self, path: &KeyPath, raw: RawSource) -> Option<SourceConfig> {
        let kind = match raw.kind.as_deref().map(str::trim) {
            None => {
                self.problem(&path.key("kind"), format!("missing: one of {}", kind_list()));
                None
            }
            Some(k) => match SourceKind::parse(k) {
                Some(kind) => Some(kind),
                None => {
                    self.problem(
                        &path.key("kind"),
                        format!("unknown source kind \"{k}\"; expected one of {}", kind_list()),
                    );
                    None
                }
            },
        };
        let schedule = self.schedule(&path.key("schedule"), raw.schedule.as_deref());
        let url = match raw.url.as_deref() {
            Some(text) => self.http_url(&path.key("url"), text),
            None => None,
        };
        let url_given = raw.url.is_some();
        let kind = kind?;
        let query = raw.query.as_deref().map(str::trim).map(str::to_owned);
        if query.as_deref() == Some("") {
            self.problem(&path.key("query"), "must not be blank");
        }
        let params = self.params(path, kind, raw.params, query.is_some());

        // The URL each kind fetches; APIs with one well-known host get it by default.
        let default_url = match kind {
            SourceKind::HackerNews => Some("https://hn.algolia.com/"),
            SourceKind::Reddit => Some("https://www.reddit.com/"),
            SourceKind::Bluesky => Some("https://public.api.bsky.app/"),
            _ => None,
        };
        let url = match (url, default_url) {
            (Some(url), _) => Some(url),
            (None, Some(default)) if !url_given => Url::parse(default).ok(),
            (None, None) if !url_given => {
                let what = match kind {
                    SourceKind::Feed => "the feed's URL",
                    SourceKind::Html => "the page's URL",
                    _ => "the instance's base URL, e.g. \"https://mastodon.social\"",
                };
                self.problem(&path.key("url"), format!("missing: a {kind} source needs {what}"));
                None
            }
            (None, _) => None,
        };
        match kind {
            SourceKind::Feed | SourceKind::Html if query.is_some() => {
                self.problem(
                    &path.key("query"),
                    format!("not used by a {kind} source: it reads every item of its URL"),
                );
            }
            SourceKind::HackerNews | SourceKind::Bluesky if query.is_none() => {
                self.problem(
                    &path.key("query"),
                    format!("missing: a {kind} source searches, so it needs a query"),
                );
            }
            _ => {}
        }
        Some(SourceConfig {
            name: String::new(),
            kind,
            url: url?,
            query,
            schedule: schedule?,
            enabled: raw.enabled.unwrap_or(true),
            params: params?,
        })
    }

    fn params(
        &mut self,
        path: &KeyPath,
        kind: SourceKind,
        raw: RawSourceParams,
        has_query: bool,
    ) -> Option<SourceParams> {
        let root = path.key("params");
        let allowed: &[&str] = match kind {
            SourceKind::Feed => &[],
            SourceKind::HackerNews => &["tags"],
            SourceKind::Mastodon => &["tag", "max_pages"],
            SourceKind::Reddit => &["subreddit", "max_pages"],
            SourceKind::Lemmy => &["community", "max_pages"],
            SourceKind::Bluesky => &["identifier", "app_password", "app_password_env", "app_password_file"],
            SourceKind::Html => &["selectors"],
        };
        let mut ok = true;
        for key in raw.present_keys() {
            if !allowed.contains(&key) && key != "app_password" {
                let hint = if allowed.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (it takes: {})",
                        allowed
                            .iter()
                            .filter(|k| **k != "app_password")
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                self.problem(&root.key(key), format!("not used by a {kind} source{hint}"));
                ok = false;
            }
        }
        let mut params = SourceParams::default();
        match kind {
            SourceKind::HackerNews => {
                let tags = raw.tags.clone().unwrap_or_else(|| vec!["story".into(), "comment".into()]);
                for (i, tag) in tags.iter().enumerate() {
                    if !HN_TAGS.contains(&tag.as_str()) {
                        self.problem(
                            &root.key("tags").index(i),
                            format!(
                                "unknown Hacker News tag \"{tag}\"; expected one of {}",
                                HN_TAGS.join(", ")
                            ),
                        );
                        ok = false;
                    }
                }
                if tags.is_empty() {
                    self.problem(
                        &root.key("tags"),
                        "must list at least one tag, e.g. [\"story\", \"comment\"]",
                    );
                    ok = false;
                }
                params.tags = tags;
            }
            SourceKind::Mastodon => {
                params.tag = self.name_param(&root.key("tag"), raw.tag.as_deref(), '#');
                if params.tag.is_some() == has_query {
                    self.problem(&root.key("tag"), "a mastodon source reads either a hashtag timeline (params.tag) or a search (query): set exactly one");
                    ok = false;
                }
            }
            SourceKind::Reddit => {
                params.subreddit = self
                    .name_param(&root.key("subreddit"), raw.subreddit.as_deref(), '/')
                    .map(|s| s.trim_start_matches("r/").to_owned());
                if params.subreddit.is_none() && !has_query {
                    self.problem(&root.key("subreddit"), "a reddit source needs a query (site search), params.subreddit (its new posts), or both (search in that subreddit)");
                    ok = false;
                }
            }
            SourceKind::Lemmy => {
                params.community = self.name_param(&root.key("community"), raw.community.as_deref(), '!');
                if params.community.is_none() && !has_query {
                    self.problem(
                        &root.key("community"),
                        "a lemmy source needs a query (search) or params.community (its post list)",
                    );
                    ok = false;
                }
            }
            SourceKind::Bluesky => {
                params.identifier =
                    raw.identifier.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
                params.app_password = self.secret(
                    &root,
                    "app_password",
                    &raw.app_password,
                    raw.app_password_env.as_deref(),
                    raw.app_password_file.as_deref(),
                    None,
                    false,
                );
                if params.identifier.is_some() != params.app_password.is_some() && raw.app_password.is_none()
                {
                    self.problem(&root.key("identifier"), "logging in needs both params.identifier and an app password (params.app_password_env or params.app_password_file); set both or neither");
                    ok = false;
                }
            }
            SourceKind::Html => match raw.selectors {
                None => {
                    self.problem(&root.key("selectors"), "missing: an html source needs CSS selectors, at least params.selectors.item and .text or .title");
                    ok = false;
                }
                Some(sel) => {
                    let sel_path = root.key("selectors");
                    let mut css = |key: &str, value: Option<String>| -> Option<String> {
                        let value = value?;
                        if let Err(e) = scraper::Selector::parse(&value) {
                            self.problem(
                                &sel_path.key(key),
                                format!("\"{value}\" is not a valid CSS selector ({e})"),
                            );
                            ok = false;
                        }
                        Some(value)
                    };
                    let item = css("item", sel.item);
                    let title = css("title", sel.title);
                    let text = css("text", sel.text);
                    let link = css("link", sel.link);
                    let author = css("author", sel.author);
                    let time = css("time", sel.time);
                    if item.is_none() {
                        self.problem(&sel_path.key("item"), "missing: the selector that matches each post");
                        ok = false;
                    }
                    if title.is_none() && text.is_none() {
                        self.problem(
                            &sel_path.key("text"),
                            "missing: set text or title (or both), or nothing can be matched",
                        );
                        ok = false;
                    }
                    if let Some(item) = item {
                        params.selectors = Some(HtmlSelectors { item, title, text, link, author, time });
                    }
                }
            },
            SourceKind::Feed => {}
        }
        if matches!(kind, SourceKind::Mastodon | SourceKind::Reddit | SourceKind::Lemmy) {
            let pages = raw.max_pages.unwrap_or(3);
            if !(1..=50).contains(&pages) {
                self.problem(&root.key("max_pages"), format!("{pages} is out of range 1..=50"));
                ok = false;
            }
            params.max_pages = Some(pages);
        }
        ok.then_some(params)
    }

    /// A community, tag or subreddit name: trimmed, without its sigil.
    fn name_param(&mut self, path: &KeyPath, value: Option<&str>, sigil: char) -> Option<String> {
        let value = value?.trim().trim_start_matches(sigil).trim();
        if value.is_empty() {
            self.problem(path, "must not be blank");
            return None;
        }
        if value.chars().any(char::is_whitespace) {
            self.problem(path, format!("\"{value}\" contains spaces"));
            return None;
        }
        Some(value.to_owned())
    }

    fn schedule(&mut self, path: &KeyPath, value: Option<&str>) -> Option<cron::Schedule> {
        let Some(expr) = value.map(str::trim) else {
            self.problem(
                path,
                "missing: a cron expression with seconds, e.g. \"0 */15 * * * *\" (every 15 minutes)",
            );
            return None;
        };
        match cron::Schedule::from_str(expr) {
            Ok(schedule) => {
                if schedule.upcoming(chrono::Utc).next().is_none() {
                    self.problem(path, format!("\"{expr}\" never fires"));
                    return None;
                }
                Some(schedule)
            }
            Err(e) => {
                let fields = expr.split_whitespace().count();
                let hint = if fields == 5 {
                    format!(
                        "; the schedule has a seconds field first (sec min hour day month weekday [year]): did you mean \"0 {expr}\"?"
                    )
                } else {
                    "; expected sec min hour day-of-month month day-of-week [year], e.g. \"0 */15 * * * *\""
                        .to_owned()
                };
                // The crate's message repeats the expression with a caret under it; keep the words.
                let detail: Vec<String> = e
                    .to_string()
                    .lines()
                    .map(str::trim)
                    .filter(|l| {
                        !l.is_empty() && *l != expr && !l.chars().all(|c| c == '^' || c.is_whitespace())
                    })
                    .map(str::to_owned)
                    .collect();
                let detail =
                    if detail.is_empty() { String::new() } else { format!(" ({})", detail.join("; ")) };
                self.problem(path, format!("\"{expr}\" is not a valid cron expression{detail}{hint}"));
                None
            }
        }
    }

    fn http_url(&mut self, path: &KeyPath, text: &str) -> Option<Url> {
        match Url::parse(text.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
            Ok(url) => {
                self.problem(
                    path,
                    format!(
                        "\"{text}\" must be an http:// or https:// URL with a host (found scheme {})",
                        url.scheme()
                    ),
                );
                None
            }
            Err(e) => {
                self.problem(path, format!("\"{text}\" is not a valid URL ({e})"));
                None
            }
        }
    }

    fn duration(&mut self, path: &KeyPath, value: Option<&str>, default: Duration) -> Option<Duration> {
        let Some(text) = value else { return Some(default) };
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d.is_zero() => {
                self.problem(path, "must be longer than zero");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(
                    path,
                    format!("\"{text}\" is not a duration ({e}); write e.g. \"30s\", \"2m\", \"1h 30m\""),
                );
                None
            }
        }
    }

    fn path(&self, value: &Path) -> PathBuf {
        if value.is_absolute() { value.to_owned() } else { self.base_dir.join(value) }
    }

    /// Resolves a secret given as `<name>_env` or `<name>_file` (never inline),
    /// falling back to `default_env`.
    #[allow(clippy::too_many_arguments)]
    fn secret(
        &mut self,
        parent: &KeyPath,
        name: &str,
        inline: &Inline,
        env_name: Option<&str>,
        file: Option<&Path>,
        default_env: Option<&'static str>,
        required: bool,
    ) -> Option<SecretString> {
        let key = parent.key(name);
        if inline.is_some() {
            let env_hint = default_env.map(|e| format!(", or set {e}")).unwrap_or_default();
            self.problem(
                &key,
                format!("secrets may not be written in the config file: put it in a file and set {key}_file, or name an environment variable with {key}_env{env_hint}"),
            );
            return None;
        }
        match (env_name, file) {
            (Some(_), Some(_)) => {
                self.problem(
                    &parent.key(&format!("{name}_env")),
                    format!("set only one of {key}_env and {key}_file"),
                );
                None
            }
            (Some(var), None) => match self.env.get(var.trim()) {
                Some(value) => Some(SecretString::from(value.to_owned())),
                None => {
                    self.problem(
                        &parent.key(&format!("{name}_env")),
                        format!("the environment variable {var} is not set (or is empty)"),
                    );
                    None
                }
            },
            (None, Some(file)) => {
                let resolved = self.path(file);
                match std::fs::read_to_string(&resolved) {
                    Ok(text) if !text.trim().is_empty() => Some(SecretString::from(text.trim().to_owned())),
                    Ok(_) => {
                        self.problem(
                            &parent.key(&format!("{name}_file")),
                            format!("{} is empty", resolved.display()),
                        );
                        None
                    }
                    Err(e) => {
                        self.problem(
                            &parent.key(&format!("{name}_file")),
                            format!("cannot read {}: {e}", resolved.display()),
                        );
                        None
                    }
                }
            }
            (None, None) => {
                let value = default_env.and_then(|var| self.env.get(var));
                if value.is_none() && required {
                    let env_hint = default_env.map(|e| format!("set {e} or ")).unwrap_or_default();
                    self.problem(&key, format!("missing: {env_hint}set {key}_env or {key}_file"));
                }
                value.map(|v| SecretString::from(v.to_owned()))
            }
        }
    }

    fn model(&mut self, raw: RawModel) -> Option<ModelConfig> {
        let root = KeyPath::root("model");
        let dir = match self.env.get(env_keys::MODEL_DIR) {
            Some(dir) => PathBuf::from(dir),
            None => self.path(
                raw.dir
                    .as_deref()
                    .unwrap_or(Path::new("/var/lib/brandpulse/models/brandpulse-sentiment-minilm-v1")),
            ),
        };
        let batch_size = raw.batch_size.unwrap_or(32);
        if !(1..=512).contains(&batch_size) {
            self.problem(&root.key("batch_size"), format!("{batch_size} is out of range 1..=512"));
        }
        let threads = match self.env.get(env_keys::MODEL_THREADS) {
            Some(text) => match text.parse::<u32>() {
                Ok(n) => n,
                Err(_) => {
                    self.problems.push((
                        Place::EnvVar(env_keys::MODEL_THREADS),
                        format!("\"{text}\" is not a whole number"),
                    ));
                    return None;
                }
            },
            None => raw.threads.unwrap_or(2),
        };
        if !(1..=64).contains(&threads) {
            self.problem(&root.key("threads"), format!("{threads} is out of range 1..=64"));
        }
        let variant = match raw.variant.as_deref().map(str::trim) {
            None => crate::nlp::Variant::default(),
            Some("fp32") => crate::nlp::Variant::Fp32,
            Some("int8") => crate::nlp::Variant::Int8,
            Some(other) => {
                self.problem(
                    &root.key("variant"),
                    format!("\"{other}\" is not a model variant (fp32 or int8)"),
                );
                crate::nlp::Variant::Fp32
            }
        };
        Some(ModelConfig { dir, batch_size, threads, variant })
    }

    fn digest(&mut self, raw: RawDigest) -> Option<DigestConfig> {
        let root = KeyPath::root("digest");
        let time_text = raw.time.as_deref().unwrap_or("08:00").trim().to_owned();
        let time = chrono::NaiveTime::parse_from_str(&time_text, "%H:%M")
            .or_else(|_| chrono::NaiveTime::parse_from_str(&time_text, "%H:%M:%S"));
        let time = match time {
            Ok(t) => Some(t),
            Err(_) => {
                self.problem(
                    &root.key("time"),
                    format!("\"{time_text}\" is not a time of day; write HH:MM, e.g. \"08:00\""),
                );
                None
            }
        };
        let tz_text = raw.time_zone.as_deref().unwrap_or("UTC").trim().to_owned();
        let time_zone = match chrono_tz::Tz::from_str(&tz_text) {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.problem(&root.key("time_zone"), format!("unknown time zone \"{tz_text}\"; use an IANA name such as \"Europe/Berlin\" or \"America/New_York\""));
                None
            }
        };
        let format_names =
            raw.formats.unwrap_or_else(|| vec!["markdown".into(), "html".into(), "json".into()]);
        let mut formats = Vec::new();
        for (i, name) in format_names.iter().enumerate() {
            let format = match name.trim() {
                "markdown" | "md" => DigestFormat::Markdown,
                "html" => DigestFormat::Html,
                "json" => DigestFormat::Json,
                other => {
                    self.problem(
                        &root.key("formats").index(i),
                        format!("unknown format \"{other}\"; expected markdown, html or json"),
                    );
                    continue;
                }
            };
            if formats.contains(&format) {
                self.problem(&root.key("formats").index(i), format!("\"{name}\" is listed twice"));
            } else {
                formats.push(format);
            }
        }
        if format_names.is_empty() {
            self.problem(&root.key("formats"), "must list at least one of markdown, html, json");
        }
        let mut deliver = Vec::new();
        let mut ok = true;
        for (i, value) in raw.deliver.into_iter().enumerate() {
            let path = root.key("deliver").index(i);
            if !value.is_table() {
                self.problem(
                    &path,
                    format!("must be a table ([[digest.deliver]]), found a {}", value.type_str()),
                );
                ok = false;
                continue;
            }
            match self.de::<RawDelivery>(value, &path).and_then(|raw| self.delivery(&path, raw)) {
                Some(target) => deliver.push(target),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        Some(DigestConfig { time: time?, time_zone: time_zone?, formats, deliver })
    }

    fn delivery(&mut self, path: &KeyPath, raw: RawDelivery) -> Option<DeliveryTarget> {
        let kind = raw.kind.as_deref().map(str::trim);
        let allowed: &[&str] = match kind {
            Some("directory") => &["path"],
            Some("webhook") => &["url", "url_env", "url_file"],
            Some("smtp") => &[
                "host",
                "port",
                "tls",
                "username",
                "password",
                "password_env",
                "password_file",
                "from",
                "to",
            ],
            Some(other) => {
                self.problem(
                    &path.key("kind"),
                    format!("unknown delivery kind \"{other}\"; expected directory, webhook or smtp"),
                );
                return None;
            }
            None => {
                self.problem(&path.key("kind"), "missing: one of directory, webhook, smtp");
                return None;
            }
        };
        let kind = kind.unwrap_or_default();
        let present = [
            ("path", raw.path.is_some()),
            ("url_env", raw.url_env.is_some()),
            ("url_file", raw.url_file.is_some()),
            ("host", raw.host.is_some()),
            ("port", raw.port.is_some()),
            ("tls", raw.tls.is_some()),
            ("username", raw.username.is_some()),
            ("password_env", raw.password_env.is_some()),
            ("password_file", raw.password_file.is_some()),
            ("from", raw.from.is_some()),
            ("to", !raw.to.is_empty()),
        ];
        let mut ok = true;
        for (key, set) in present {
            if set && !allowed.contains(&key) {
                self.problem(&path.key(key), format!("not used by a {kind} delivery"));
                ok = false;
            }
        }
        match kind {
            "directory" => {
                let Some(dir) = raw.path.as_deref() else {
                    self.problem(&path.key("path"), "missing: the directory digests are written to");
                    return None;
                };
                let dir = self.path(dir);
                ok.then_some(DeliveryTarget::Directory { path: dir })
            }
            "webhook" => {
                let url = self.secret(
                    path,
                    "url",
                    &raw.url,
                    raw.url_env.as_deref(),
                    raw.url_file.as_deref(),
                    None,
                    true,
                )?;
                use secrecy::ExposeSecret;
                match Url::parse(url.expose_secret()) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                    _ => {
                        // Do not echo the value: webhook URLs carry tokens.
                        self.problem(&path.key("url_env"), "the webhook URL is not a valid http(s) URL");
                        return None;
                    }
                }
                ok.then_some(DeliveryTarget::Webhook { url })
            }
            _ => {
                if raw.url.is_some() {
                    self.problem(&path.key("url"), "not used by an smtp delivery");
                    ok = false;
                }
                let host = self.required_text(&path.key("host"), raw.host.as_deref(), "SMTP server host");
                let tls = match raw.tls.as_deref().map(str::trim).unwrap_or("starttls") {
                    "starttls" => Some(SmtpTls::StartTls),
                    "tls" => Some(SmtpTls::Tls),
                    "none" => Some(SmtpTls::None),
                    other => {
                        self.problem(
                            &path.key("tls"),
                            format!("unknown value \"{other}\"; expected starttls, tls or none"),
                        );
                        None
                    }
                };
                let port = raw.port.unwrap_or(match tls {
                    Some(SmtpTls::Tls) => 465,
                    Some(SmtpTls::None) => 25,
                    _ => 587,
                });
                let username =
                    raw.username.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
                let password = self.secret(
                    path,
                    "password",
                    &raw.password,
                    raw.password_env.as_deref(),
                    raw.password_file.as_deref(),
                    None,
                    username.is_some(),
                );
                let from = self.required_text(&path.key("from"), raw.from.as_deref(), "sender address");
                if let Some(from) = &from
                    && !from.contains('@')
                {
                    self.problem(&path.key("from"), format!("\"{from}\" is not an email address"));
                    ok = false;
                }
                if raw.to.is_empty() {
                    self.problem(&path.key("to"), "missing: at least one recipient address");
                    ok = false;
                }
                for (i, to) in raw.to.iter().enumerate() {
                    if !to.contains('@') {
                        self.problem(&path.key("to").index(i), format!("\"{to}\" is not an email address"));
                        ok = false;
                    }
                }
                if !ok {
                    return None;
                }
                Some(DeliveryTarget::Smtp {
                    host: host?,
                    port,
                    tls: tls?,
                    username,
                    password,
                    from: from?,
                    to: raw.to,
                })
            }
        }
    }

    fn api(&mut self, raw: RawApi) -> Option<ApiConfig> {
        let root = KeyPath::root("api");
        let enabled = raw.enabled.unwrap_or(false);
        let (bind_text, from_env) = match self.env.get(env_keys::API_BIND) {
            Some(b) => (b.to_owned(), true),
            None => (raw.bind.clone().unwrap_or_else(|| "127.0.0.1:8080".into()), false),
        };
        let bind = match SocketAddr::from_str(bind_text.trim()) {
            Ok(addr) => Some(addr),
            Err(_) => {
                let message = format!("\"{bind_text}\" is not an address:port such as \"127.0.0.1:8080\"");
                if from_env {
                    self.problems.push((Place::EnvVar(env_keys::API_BIND), message));
                } else {
                    self.problem(&root.key("bind"), message);
                }
                None
            }
        };
        let token = self.secret(
            &root,
            "token",
            &raw.token,
            raw.token_env.as_deref(),
            raw.token_file.as_deref(),
            Some(env_keys::API_TOKEN),
            enabled,
        );
        if let Some(token) = &token {
            use secrecy::ExposeSecret;
            let len = token.expose_secret().chars().count();
            if len < 16 {
                self.problem(&root.key("token"), format!("the token is {len} characters long; use at least 16 random characters (e.g. `openssl rand -hex 32`)"));
                return None;
            }
        }
        Some(ApiConfig { enabled, bind: bind?, token })
    }

    fn privacy(&mut self, raw: RawPrivacy) -> Option<PrivacyConfig> {
        let root = KeyPath::root("privacy");
        let hash = raw.hash_author_handles.unwrap_or(false);
        let hash_key = self.secret(
            &root,
            "hash_key",
            &raw.hash_key,
            raw.hash_key_env.as_deref(),
            raw.hash_key_file.as_deref(),
            Some(env_keys::AUTHOR_HASH_KEY),
            hash,
        );
        if raw.retention_days == Some(0) {
            self.problem(
                &root.key("retention_days"),
                "must be at least 1; leave it out to keep post text forever",
            );
            return None;
        }
        Some(PrivacyConfig { hash_author_handles: hash, hash_key, retention_days: raw.retention_days })
    }

    fn fetch(&mut self, raw: RawFetch, any_sources: bool) -> Option<FetchConfig> {
        let root = KeyPath::root("fetch");
        let contact_url = match raw.contact_url.as_deref() {
            Some(text) => Some(self.http_url(&root.key("contact_url"), text)?),
            None if any_sources => {
                self.problem(
                    &root.key("contact_url"),
                    "missing: a URL (your site or a page about this crawler) that site owners can reach you at; it goes into the User-Agent",
                );
                return None;
            }
            None => None,
        };
        let user_agent = match &contact_url {
            Some(url) => format!("brandpulse/{} (+{url})", env!("CARGO_PKG_VERSION")),
            None => format!("brandpulse/{}", env!("CARGO_PKG_VERSION")),
        };
        let connect_timeout = self.duration(
            &root.key("connect_timeout"),
            raw.connect_timeout.as_deref(),
            Duration::from_secs(10),
        );
        let timeout = self.duration(&root.key("timeout"), raw.timeout.as_deref(), Duration::from_secs(30));
        let max_body_bytes = raw.max_body_bytes.unwrap_or(10 * 1024 * 1024);
        if !(1024..=1024 * 1024 * 1024).contains(&max_body_bytes) {
            self.problem(
                &root.key("max_body_bytes"),
                format!("{max_body_bytes} is out of range 1024..=1073741824"),
            );
        }
        let rate = raw.per_host_requests_per_minute.unwrap_or(30);
        if !(1..=6000).contains(&rate) {
            self.problem(
                &root.key("per_host_requests_per_minute"),
                format!("{rate} is out of range 1..=6000"),
            );
        }
        let concurrency = raw.per_host_concurrency.unwrap_or(2);
        if !(1..=64).contains(&concurrency) {
            self.problem(&root.key("per_host_concurrency"), format!("{concurrency} is out of range 1..=64"));
        }
        Some(FetchConfig {
            contact_url,
            user_agent,
            connect_timeout: connect_timeout?,
            timeout: timeout?,
            max_body_bytes,
            per_host_requests_per_minute: rate,
            per_host_concurrency: concurrency,
        })
    }

    fn daemon(&mut self, raw: RawDaemon) -> Option<DaemonConfig> {
        let root = KeyPath::root("daemon");
        let instance = match raw.instance.as_deref().map(str::trim) {
            Some("") => {
                self.problem(&root.key("instance"), "must not be empty; leave it out for hostname-pid");
                None
            }
            Some(name) if name.len() > 100 || name.chars().any(char::is_control) => {
                self.problem(
                    &root.key("instance"),
                    "must be at most 100 characters, without control characters",
                );
                None
            }
            Some(name) => Some(Some(name.to_owned())),
            None => Some(None),
        };
        let tick = self.duration(&root.key("tick"), raw.tick.as_deref(), Duration::from_secs(5));
        let lease = self.duration(&root.key("lease"), raw.lease.as_deref(), Duration::from_secs(15 * 60));
        let shutdown_timeout = self.duration(
            &root.key("shutdown_timeout"),
            raw.shutdown_timeout.as_deref(),
            Duration::from_secs(30),
        );
        let mut in_range = |key: &str, value: u32, range: std::ops::RangeInclusive<u32>| {
            if range.contains(&value) {
                Some(value)
            } else {
                self.problem(
                    &root.key(key),
                    format!("{value} is out of range {}..={}", range.start(), range.end()),
                );
                None
            }
        };
        let max_concurrent_fetches =
            in_range("max_concurrent_fetches", raw.max_concurrent_fetches.unwrap_or(8), 1..=256);
        let analysis_workers = in_range("analysis_workers", raw.analysis_workers.unwrap_or(1), 1..=16);
        let digest_catch_up_days =
            in_range("digest_catch_up_days", raw.digest_catch_up_days.unwrap_or(7), 0..=31);
        Some(DaemonConfig {
            instance: instance?,
            tick: tick?,
            max_concurrent_fetches: max_concurrent_fetches?,
            lease: lease?,
            analysis_workers: analysis_workers?,
            shutdown_timeout: shutdown_timeout?,
            digest_catch_up_days: digest_catch_up_days?,
        })
    }

    fn log(&mut self, raw: RawLog) -> Option<LogConfig> {
        let root = KeyPath::root("log");
        let level = raw.level.unwrap_or_else(|| "info".to_owned());
        let level_ok = tracing_subscriber::EnvFilter::builder().parse(&level).is_ok();
        if !level_ok {
            self.problem(
                &root.key("level"),
                format!(
                    "\"{level}\" is not a log filter; write a level (error, warn, info, debug, trace) \
                     or directives like \"info,brandpulse::fetch=debug\""
                ),
            );
        }
        let format = match raw.format.as_deref() {
            None | Some("text") => Some(LogFormat::Text),
            Some("json") => Some(LogFormat::Json),
            Some(other) => {
                self.problem(
                    &root.key("format"),
                    format!("\"{other}\" is not a log format; use text or json"),
                );
                None
            }
        };
        if !level_ok {
            return None;
        }
        Some(LogConfig { level, format: format? })
    }
}

fn kind_list() -> String {
    SourceKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

/// " (did you mean `x`?)" for a key close to a known one.
fn suggestion(key: &str) -> String {
    KNOWN_KEYS
        .iter()
        .map(|known| (strsim::levenshtein(key, known), known))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, known)| format!(" (did you mean `{known}`?)"))
        .unwrap_or_default()
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}
