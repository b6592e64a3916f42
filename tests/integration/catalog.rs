//! `brandpulse catalog import|list` against the real database: idempotent,
//! all-or-nothing, discontinued products kept.

use sqlx::PgPool;

use crate::helpers::{Run, TestDb, brandpulse, example_catalog, example_config, write_temp};

fn run(db: &TestDb, args: &[&str]) -> Run {
    let config = example_config();
    let mut full = vec!["--config", config.to_str().expect("utf-8 path")];
    full.extend_from_slice(args);
    brandpulse(&full, &[("BRANDPULSE_DATABASE_URL", db.url.as_str())])
}

/// Every column of every product plus its row version: equal snapshots mean
/// nothing was written.
async fn snapshot(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT xmin::text || ' ' || to_jsonb(p)::text FROM products p ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("snapshot products")
}

fn example_text() -> String {
    std::fs::read_to_string(example_catalog()).expect("read example catalog")
}

#[tokio::test]
async fn import_is_idempotent_and_reports_counts() {
    let db = TestDb::new().await;
    let catalog = example_catalog();
    let catalog = catalog.to_string_lossy();
    let products = example_text().lines().count() - 1;
    assert!(products >= 40, "the example catalog has {products} products");

    let first = run(&db, &["catalog", "import", &catalog]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stdout.contains(&format!(
            "{products} products: {products} inserted, 0 updated, 0 unchanged; 0 discontinued"
        )),
        "{}",
        first.stdout
    );
    let before = snapshot(&db.pool).await;
    assert_eq!(before.len(), products);

    let second = run(&db, &["catalog", "import", &catalog]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stdout.contains(&format!("0 inserted, 0 updated, {products} unchanged; 0 discontinued")),
        "{}",
        second.stdout
    );
    assert_eq!(before, snapshot(&db.pool).await, "a repeated import rewrote rows or bumped timestamps");

    // A changed row is the only one rewritten.
    let edited = example_text().replacen("Kestrel X200 Pro,", "Kestrel X200 Pro (2025),", 1);
    let (_dir, path) = write_temp("catalog.csv", edited.as_bytes());
    let third = run(&db, &["catalog", "import", &path.to_string_lossy()]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert!(
        third.stdout.contains(&format!("0 inserted, 1 updated, {} unchanged", products - 1)),
        "{}",
        third.stdout
    );
    let after = snapshot(&db.pool).await;
    let changed = before.iter().zip(&after).filter(|(a, b)| a != b).count();
    assert_eq!(changed, 1);
}

#[tokio::test]
async fn a_bad_row_in_the_middle_leaves_the_catalog_as_it_was() {
    let db = TestDb::new().await;
    let catalog = example_catalog();
    assert_eq!(run(&db, &["catalog", "import", &catalog.to_string_lossy()]).code, 0);
    let before = snapshot(&db.pool).await;

    let text = example_text();
    let lines: Vec<&str> = text.lines().collect();
    let middle = lines.len() / 2;
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "unknown brand",
            {
                let mut l = lines.clone();
                let bad = l[middle]
                    .replacen(",Kestrel,", ",Initech,", 1)
                    .replacen(",Lumio,", ",Initech,", 1)
                    .replacen(",Orbix,", ",Initech,", 1);
                l[middle] = Box::leak(bad.into_boxed_str());
                l.join("\n").into_bytes()
            },
            format!("line {}: unknown brand \"Initech\"", middle + 1),
        ),
        (
            "missing SKU",
            {
                let mut l = lines.clone();
                let bad = format!(",{}", l[middle].split_once(',').expect("comma").1);
                l[middle] = Box::leak(bad.into_boxed_str());
                l.join("\n").into_bytes()
            },
            format!("line {}: missing SKU", middle + 1),
        ),
        (
            "duplicate SKU in the file",
            {
                let mut l = lines.clone();
                l.insert(middle, lines[1]);
                l.join("\n").into_bytes()
            },
            format!("line {}: duplicate SKU", middle + 1),
        ),
        (
            "wrong column count",
            {
                let mut l = lines.clone();
                l.insert(middle, "KM-EXTRA,Kestrel Extra,Kestrel");
                l.join("\n").into_bytes()
            },
            format!("line {}: has 3 fields but the header has 8 columns", middle + 1),
        ),
        (
            "bad UTF-8",
            {
                let mut bytes = Vec::new();
                for (i, line) in lines.iter().enumerate() {
                    if i == middle {
                        bytes.extend_from_slice(b"KM-BAD,Kestrel \xff\xfe Phone,Kestrel,,,,,\n");
                    }
                    bytes.extend_from_slice(line.as_bytes());
                    bytes.push(b'\n');
                }
                bytes
            },
            format!("line {}: column \"name\" is not valid UTF-8", middle + 1),
        ),
    ];
    for (what, bytes, expected) in cases {
        let (_dir, path) = write_temp("catalog.csv", &bytes);
        let result = run(&db, &["catalog", "import", &path.to_string_lossy()]);
        assert_eq!(result.code, 2, "{what}: {}", result.stderr);
        assert!(result.stderr.contains(&expected), "{what}: expected `{expected}` in:\n{}", result.stderr);
        assert!(
            result.stderr.contains("nothing imported, the catalog is unchanged"),
            "{what}: {}",
            result.stderr
        );
        assert_eq!(before, snapshot(&db.pool).await, "{what}: the catalog changed");
    }
}

#[tokio::test]
async fn a_product_missing_from_a_later_import_is_discontinued_not_deleted() {
    let db = TestDb::new().await;
    let catalog = example_catalog();
    assert_eq!(run(&db, &["catalog", "import", &catalog.to_string_lossy()]).code, 0);
    let products = example_text().lines().count() - 1;

    let without: String = example_text()
        .lines()
        .filter(|l| !l.starts_with("LU-XM4,") && !l.starts_with("OB-S8,"))
        .collect::<Vec<_>>()
        .join("\n");
    let (_dir, path) = write_temp("catalog.csv", without.as_bytes());
    let result = run(&db, &["catalog", "import", &path.to_string_lossy()]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert!(
        result.stdout.contains(&format!("{} unchanged; 2 discontinued", products - 2)),
        "{}",
        result.stdout
    );

    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT sku, discontinued_at IS NOT NULL FROM products WHERE sku IN ('LU-XM4', 'OB-S8') ORDER BY sku",
    )
    .fetch_all(&db.pool)
    .await
    .expect("rows");
    assert_eq!(rows, vec![("LU-XM4".into(), true), ("OB-S8".into(), true)]);
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM products").fetch_one(&db.pool).await.expect("count");
    assert_eq!(total as usize, products, "no product was deleted");

    let listed = run(&db, &["catalog", "list", "--brand", "lumio"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains("LU-XM4") && listed.stdout.contains("discontinued"), "{}", listed.stdout);

    // A partial import with --keep-missing discontinues nothing.
    let (_dir2, partial) =
        write_temp("part.csv", example_text().lines().take(3).collect::<Vec<_>>().join("\n").as_bytes());
    let result = run(&db, &["catalog", "import", "--keep-missing", &partial.to_string_lossy()]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert!(result.stdout.contains("0 discontinued"), "{}", result.stdout);

    // Listing it again brings it back.
    let result = run(&db, &["catalog", "import", &catalog.to_string_lossy()]);
    assert!(result.stdout.contains("0 inserted, 2 updated"), "{}", result.stdout);
    let discontinued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM products WHERE discontinued_at IS NOT NULL")
            .fetch_one(&db.pool)
            .await
            .expect("count");
    assert_eq!(discontinued, 0);
}

#[tokio::test]
async fn csv_listing_is_import_input() {
    let db = TestDb::new().await;
    let catalog = example_catalog();
    assert_eq!(run(&db, &["catalog", "import", &catalog.to_string_lossy()]).code, 0);
    let listed = run(&db, &["catalog", "list", "--format", "csv"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(
        listed.stdout.starts_with("sku,name,brand,category,aliases,url,discontinued,colourways,launch_year"),
        "{}",
        listed.stdout
    );
    let (_dir, path) = write_temp("export.csv", listed.stdout.as_bytes());
    let before = snapshot(&db.pool).await;
    let result = run(&db, &["catalog", "import", &path.to_string_lossy()]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let products = example_text().lines().count() - 1;
    assert!(
        result.stdout.contains(&format!("0 inserted, 0 updated, {products} unchanged")),
        "{}",
        result.stdout
    );
    assert_eq!(before, snapshot(&db.pool).await, "re-importing a listing rewrote rows");
}

#[tokio::test]
async fn json_import_and_listing() {
    let db = TestDb::new().await;
    let json = r#"[
  {"sku": "LU-XM5", "name": "Lumio XM-5", "brand": "Lumio", "category": "Headphones",
   "aliases": ["XM5", "XM 5"], "url": "https://www.lumio-audio.example/headphones/xm-5", "weight_g": 254},
  {"sku": "OB-S9", "name": "Orbix S9", "brand": "orbix", "aliases": "S9|欧比斯S9"}
]"#;
    let (_dir, path) = write_temp("catalog.json", json.as_bytes());
    let result = run(&db, &["catalog", "import", &path.to_string_lossy()]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert!(result.stdout.contains("2 inserted"), "{}", result.stdout);

    let listed = run(&db, &["catalog", "list", "--format", "json"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let value: serde_json::Value = serde_json::from_str(&listed.stdout).expect("list --format json is JSON");
    assert_eq!(value[0]["sku"], "LU-XM5");
    assert_eq!(value[0]["attributes"]["weight_g"], 254);
    assert_eq!(value[1]["brand"], "Orbix");
    assert_eq!(value[1]["aliases"], serde_json::json!(["S9", "欧比斯S9"]));

    let bad = run(&db, &["catalog", "list", "--brand", "Initech"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--brand: no brand named \"Initech\""), "{}", bad.stderr);
    let bad = run(&db, &["catalog", "import", "/nonexistent/catalog.csv"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("cannot read catalog file /nonexistent/catalog.csv"), "{}", bad.stderr);
}
