//! `brandpulse check-config`: the shipped example passes; broken configs fail
//! with exit code 2 and a message naming the key.

use brandpulse::config::{Config, Env};
use secrecy::ExposeSecret;

use crate::helpers::{brandpulse, example_config, write_temp};

/// A small valid config; each broken case below changes one thing in it.
const BASE: &str = r#"
[database]
url = "postgres://brandpulse@127.0.0.1:5432/brandpulse"

[[brands]]
name = "Kestrel"
aliases = ["Kestrel", "@kestrelmobile"]

[[brands]]
name = "Orbix"
aliases = ["Orbix"]
competitor = true

[[sources]]
name = "newsroom"
kind = "feed"
url = "https://news.kestrel.example/feed.xml"
schedule = "0 */30 * * * *"

[digest]
time = "08:00"
time_zone = "Europe/Berlin"

[fetch]
contact_url = "https://kestrel.example/crawler"
"#;

fn check(text: &str, env: &[(&str, &str)]) -> crate::helpers::Run {
    let (_dir, path) = write_temp("brandpulse.toml", text.as_bytes());
    let path = path.to_string_lossy().into_owned();
    brandpulse(&["--config", &path, "check-config"], env)
}

#[test]
fn shipped_example_config_passes() {
    let path = example_config();
    let run = brandpulse(&["--config", &path.to_string_lossy(), "check-config"], &[]);
    assert_eq!(run.code, 0, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stdout.contains("OK"), "{}", run.stdout);
    assert!(run.stdout.contains("Kestrel, Lumio (own); Orbix (competitors)"), "{}", run.stdout);
    // every source kind the later parts build is shown in the example
    for kind in ["feed", "hackernews", "mastodon", "reddit", "lemmy", "bluesky", "html"] {
        assert!(run.stdout.contains(&format!("{kind} ")), "example lacks a {kind} source: {}", run.stdout);
    }
}

#[test]
fn base_config_of_these_tests_is_valid() {
    let run = check(BASE, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// How a broken case changes [`BASE`].
enum Change {
    /// Appends TOML.
    Append(&'static str),
    /// Replaces the first text with the second.
    Replace(&'static str, &'static str),
}

use Change::{Append, Replace};

/// (what is broken, the change, the key the message must name, a phrase it must contain)
const BROKEN: &[(&str, Change, &str, &str)] = &[
    ("unknown top-level key", Append("[loggin]\nlevel = \"debug\"\n"), "loggin", "unknown section or key"),
    (
        "unknown key in a brand",
        Append("[[brands]]\nname = \"Lumio\"\naliases = [\"Lumio\"]\ncolour = \"blue\"\n"),
        "brands[2].colour",
        "unknown key",
    ),
    ("typo in a key", Append("[model]\nbatch_sise = 16\n"), "model.batch_sise", "did you mean `batch_size`"),
    (
        "bad cron expression",
        Replace("0 */30 * * * *", "0 61 * * * *"),
        "sources[0].schedule",
        "not a valid cron expression",
    ),
    (
        "five-field cron",
        Replace("0 */30 * * * *", "*/5 * * * *"),
        "sources[0].schedule",
        "did you mean \"0 */5 * * * *\"",
    ),
    (
        "bad URL",
        Replace("https://news.kestrel.example/feed.xml", "htp:/blog"),
        "sources[0].url",
        "http:// or https://",
    ),
    (
        "duplicate source name",
        Append(
            "[[sources]]\nname = \"Newsroom\"\nkind = \"feed\"\nurl = \"https://b.example/feed\"\nschedule = \"0 0 * * * *\"\n",
        ),
        "sources[1].name",
        "duplicate source name",
    ),
    (
        "duplicate brand name",
        Append("[[brands]]\nname = \"kestrel\"\naliases = [\"K\"]\n"),
        "brands[2].name",
        "duplicate brand name",
    ),
    (
        "brand with no alias",
        Append("[[brands]]\nname = \"Lumio\"\naliases = []\n"),
        "brands[2].aliases",
        "has no aliases",
    ),
    (
        "unknown source kind",
        Replace("kind = \"feed\"", "kind = \"twitter\""),
        "sources[0].kind",
        "unknown source kind \"twitter\"",
    ),
    (
        "bad time zone",
        Replace("Europe/Berlin", "Europe/Berln"),
        "digest.time_zone",
        "unknown time zone \"Europe/Berln\"",
    ),
    (
        "token given inline",
        Append("[api]\nenabled = true\ntoken = \"s3cr3t-token-0123456789\"\n"),
        "api.token",
        "may not be written in the config file",
    ),
    (
        "password in the database URL",
        Replace("postgres://brandpulse@", "postgres://brandpulse:hunter2@"),
        "database.url",
        "contains a password",
    ),
    (
        "html source without selectors",
        Append(
            "[[sources]]\nname = \"forum\"\nkind = \"html\"\nurl = \"https://forum.example/\"\nschedule = \"0 0 * * * *\"\n",
        ),
        "sources[1].params.selectors",
        "needs CSS selectors",
    ),
    (
        "invalid CSS selector",
        Append(
            "[[sources]]\nname = \"forum\"\nkind = \"html\"\nurl = \"https://forum.example/\"\nschedule = \"0 0 * * * *\"\n[sources.params.selectors]\nitem = \"div[[\"\ntext = \"p\"\n",
        ),
        "sources[1].params.selectors.item",
        "not a valid CSS selector",
    ),
    (
        "param of another kind",
        Append(
            "[[sources]]\nname = \"blog\"\nkind = \"feed\"\nurl = \"https://b.example/feed\"\nschedule = \"0 0 * * * *\"\n[sources.params]\nsubreddit = \"android\"\n",
        ),
        "sources[1].params.subreddit",
        "not used by a feed source",
    ),
    ("wrong type", Append("[model]\nthreads = \"two\"\n"), "model.threads", "invalid type"),
    (
        "unknown model variant",
        Append("[model]\nvariant = \"fp16\"\n"),
        "model.variant",
        "not a model variant",
    ),
    ("api enabled without a token", Append("[api]\nenabled = true\n"), "api.token", "BRANDPULSE_API_TOKEN"),
    (
        "search source without a query",
        Append("[[sources]]\nname = \"hn\"\nkind = \"hackernews\"\nschedule = \"0 0 * * * *\"\n"),
        "sources[1].query",
        "needs a query",
    ),
    (
        "too many concurrent fetches",
        Append("[daemon]\nmax_concurrent_fetches = 0\n"),
        "daemon.max_concurrent_fetches",
        "out of range 1..=256",
    ),
    (
        "bad shutdown timeout",
        Append("[daemon]\nshutdown_timeout = \"soon\"\n"),
        "daemon.shutdown_timeout",
        "not a duration",
    ),
    ("unknown daemon key", Append("[daemon]\nworkers = 2\n"), "daemon.workers", "unknown key"),
    ("bad log level", Append("[log]\nlevel = \"loud=[\"\n"), "log.level", "not a log filter"),
    ("bad log format", Append("[log]\nformat = \"xml\"\n"), "log.format", "use text or json"),
];

#[test]
fn broken_configs_exit_2_and_name_the_key() {
    for (what, change, key, phrase) in BROKEN {
        let text = match change {
            Append(extra) => format!("{BASE}\n{extra}"),
            Replace(from, to) => {
                assert!(BASE.contains(from), "{what}: BASE has no `{from}`");
                BASE.replacen(from, to, 1)
            }
        };
        let run = check(&text, &[]);
        assert_eq!(run.code, 2, "{what}: expected exit code 2, got {}\nstderr: {}", run.code, run.stderr);
        let line = run
            .stderr
            .lines()
            .find(|l| l.contains(&format!(" {key}: ")))
            .unwrap_or_else(|| panic!("{what}: no problem names `{key}`:\n{}", run.stderr));
        assert!(line.contains(phrase), "{what}: `{line}` lacks `{phrase}`");
        assert!(line.trim_start().starts_with("- line "), "{what}: no line number in `{line}`");
        assert!(run.stderr.contains("brandpulse.toml"), "{what}: the file is not named:\n{}", run.stderr);
        assert!(
            !run.stderr.contains("hunter2") && !run.stderr.contains("s3cr3t"),
            "{what}: a secret leaked:\n{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{what}: panic:\n{}", run.stderr);
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = BASE
        .replace("0 */30 * * * *", "every half hour")
        .replace("Europe/Berlin", "Mars/Olympus")
        .replace("aliases = [\"Orbix\"]", "aliases = []")
        + "\n[fetch2]\n";
    let run = check(&text, &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("4 problems"), "{}", run.stderr);
    for key in ["sources[0].schedule", "digest.time_zone", "brands[1].aliases", "fetch2"] {
        assert!(run.stderr.contains(key), "missing {key}:\n{}", run.stderr);
    }
}

#[test]
fn toml_syntax_error_names_the_line() {
    let run = check("[database]\nurl = \"postgres://x@localhost/db\n", &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("line 2"), "{}", run.stderr);
    assert!(run.stderr.contains("not valid TOML"), "{}", run.stderr);
}

#[test]
fn missing_config_file_exits_2_naming_it() {
    let run = brandpulse(&["--config", "/nonexistent/brandpulse.toml", "check-config"], &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("/nonexistent/brandpulse.toml"), "{}", run.stderr);
    // and BRANDPULSE_CONFIG is honoured when --config is absent
    let run = brandpulse(&["check-config"], &[("BRANDPULSE_CONFIG", "/nonexistent/from-env.toml")]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("/nonexistent/from-env.toml"), "{}", run.stderr);
}

#[test]
fn secrets_come_from_env_or_file_and_are_redacted() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("hash-key"), "file-secret-key-abcdef\n").expect("write key");
    let text = format!(
        "{BASE}\n[api]\nenabled = true\ntoken_env = \"MY_API_TOKEN\"\n[privacy]\nhash_author_handles = true\nhash_key_file = \"hash-key\"\n"
    );
    let path = dir.path().join("brandpulse.toml");
    std::fs::write(&path, &text).expect("write config");
    let env = Env::from_pairs([
        ("MY_API_TOKEN", "env-secret-token-0123456789"),
        ("BRANDPULSE_DATABASE_URL", "postgres://bp:db-secret-pw@db.internal:5432/bp"),
    ]);
    let config = Config::load(&path, &env).expect("valid config");
    let token = config.api.token.as_ref().expect("token");
    assert_eq!(token.expose_secret(), "env-secret-token-0123456789");
    let key = config.privacy.hash_key.as_ref().expect("hash key from a file relative to the config");
    assert_eq!(key.expose_secret(), "file-secret-key-abcdef");
    // the environment's URL overrides the file's, and its password is split off
    assert_eq!(config.database.url.host_str(), Some("db.internal"));
    assert_eq!(config.database.url.password(), None);
    assert_eq!(config.database.display_url(), "postgres://bp:***@db.internal:5432/bp");
    let debug = format!("{config:?}");
    for secret in ["env-secret-token", "file-secret-key", "db-secret-pw"] {
        assert!(!debug.contains(secret), "{secret} leaked into Debug output");
    }
    assert!(debug.contains("REDACTED"));
    assert!(!format!("{env:?}").contains("db-secret-pw"), "Env's Debug leaks values");
}

#[test]
fn referenced_secret_variable_unset_is_a_problem() {
    let text = format!("{BASE}\n[api]\nenabled = true\ntoken_env = \"UNSET_TOKEN_VAR\"\n");
    let run = check(&text, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("api.token_env: the environment variable UNSET_TOKEN_VAR is not set"),
        "{}",
        run.stderr
    );
}

#[test]
fn environment_overrides_are_validated_too() {
    let run = check(BASE, &[("BRANDPULSE_API_BIND", "not-an-address")]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("BRANDPULSE_API_BIND (environment)"), "{}", run.stderr);
    let run = check(BASE, &[("BRANDPULSE_DATABASE_URL", "mysql://root@localhost/x")]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("BRANDPULSE_DATABASE_URL (environment): must be a postgres:// URL"),
        "{}",
        run.stderr
    );
}

#[test]
fn every_command_has_help_with_an_example() {
    for args in [
        vec!["--help"],
        vec!["check-config", "--help"],
        vec!["migrate", "--help"],
        vec!["catalog", "import", "--help"],
        vec!["catalog", "list", "--help"],
    ] {
        let run = brandpulse(&args, &[]);
        assert_eq!(run.code, 0, "{args:?}");
        assert!(run.stdout.contains("Example"), "{args:?} help has no example:\n{}", run.stdout);
    }
    let run = brandpulse(&["frobnicate"], &[]);
    assert_eq!(run.code, 2, "an unknown command is bad input");
}
