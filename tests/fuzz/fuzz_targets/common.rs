//! Shared by the targets (not a target itself: not listed in Cargo.toml).
#![allow(dead_code)]

use brandpulse::config::{BrandConfig, HtmlSelectors, SourceConfig, SourceKind, SourceParams};
use url::Url;

/// A source of `kind` as the config loader would build it.
pub fn source(kind: SourceKind, url: &str, params: SourceParams) -> SourceConfig {
    SourceConfig {
        name: "fuzz".into(),
        kind,
        url: Url::parse(url).expect("fixed URL"),
        query: Some("kestrel".into()),
        schedule: "0 * * * * *".parse().expect("fixed cron expression"),
        enabled: true,
        params,
    }
}

/// Splits `data` into its first byte (the selector) and the rest.
pub fn split_first(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((&b, rest)) => (b, rest),
        None => (0, &[]),
    }
}

pub fn selectors(
    item: &str,
    title: Option<&str>,
    text: Option<&str>,
    link: Option<&str>,
    author: Option<&str>,
    time: Option<&str>,
) -> HtmlSelectors {
    let own = |s: Option<&str>| s.map(str::to_owned);
    HtmlSelectors {
        item: item.to_owned(),
        title: own(title),
        text: own(text),
        link: own(link),
        author: own(author),
        time: own(time),
    }
}

/// The brands of config/brandpulse.example.toml plus one whose aliases fold
/// irregularly (ß, İ, Greek final sigma, a multi-word alias with a tab).
pub fn brands() -> Vec<BrandConfig> {
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    vec![
        BrandConfig {
            name: "Kestrel".into(),
            aliases: strings(&["Kestrel", "Kestrel Mobile", "@kestrelmobile", "#KestrelX200", "红隼手机"]),
            exclusions: strings(&[
                "kestrel falcon",
                "american kestrel",
                "common kestrel",
                "kestrel chick",
                "kestrel nest",
            ]),
            context_terms: strings(&[
                "phone",
                "smartphone",
                "android",
                "tablet",
                "camera",
                "battery",
                "screen",
                "update",
                "X200",
                "X200 Pro",
                "Nova",
                "Tab",
                "charger",
                "firmware",
                "app",
            ]),
            ambiguous_aliases: strings(&["Kestrel"]),
            context_window: 12,
            competitor: false,
        },
        BrandConfig {
            name: "Lumio".into(),
            aliases: strings(&["Lumio", "Lumio Audio", "@lumioaudio", "ルミオ", "路米欧"]),
            exclusions: strings(&["lumio lamp", "lumio book light"]),
            context_terms: Vec::new(),
            ambiguous_aliases: Vec::new(),
            context_window: 12,
            competitor: false,
        },
        BrandConfig {
            name: "Orbix".into(),
            aliases: strings(&["Orbix", "@orbixglobal", "欧比斯"]),
            exclusions: Vec::new(),
            context_terms: Vec::new(),
            ambiguous_aliases: Vec::new(),
            context_window: 12,
            competitor: true,
        },
        BrandConfig {
            name: "Straße".into(),
            aliases: strings(&["Straße Werk", "İSTANBUL\tAUDİO", "ΣΟΦΟΣ", "Ⅻ Labs"]),
            exclusions: strings(&["strasse werk museum"]),
            context_terms: strings(&["audio", "kopfhörer", "ηχείο"]),
            ambiguous_aliases: strings(&["ΣΟΦΟΣ"]),
            context_window: 1,
            competitor: true,
        },
    ]
}

thread_local! {
    /// The message and backtrace of the latest panic on this thread.
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// For targets whose code catches panics on purpose (`sources::feed` runs
/// feed-rs under `catch_unwind`): replaces libFuzzer's panic hook, which
/// aborts on every panic, caught or not, with one that only records the
/// panic. Call it from the target's `init`, and run the code under
/// [`no_panic`], which reports and aborts on a panic that escapes.
pub fn record_panics_instead_of_aborting() {
    std::panic::set_hook(Box::new(|info| {
        let text = format!("{info}\n{}", std::backtrace::Backtrace::force_capture());
        LAST_PANIC.with(|last| *last.borrow_mut() = Some(text));
    }));
}

/// Runs `f`; a panic that escapes it is printed and aborts the process
/// (libFuzzer then saves the input as a crash).
pub fn no_panic<R>(f: impl FnOnce() -> R) -> R {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(_) => {
            let message = LAST_PANIC.with(|last| last.borrow_mut().take()).unwrap_or_default();
            eprintln!("panic escaped the code under test: {message}");
            std::process::abort();
        }
    }
}
