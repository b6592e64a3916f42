//! Where in the config file a problem is: a key path such as `sources[2].schedule`,
//! and the line it sits on.

use std::fmt;

/// One step of a [`KeyPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A table key.
    Key(String),
    /// An index into an array (of tables).
    Index(usize),
}

/// A path to a key in the configuration, displayed as `sources[2].params.tag`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<Segment>);

impl KeyPath {
    /// The path of a top-level key.
    pub fn root(key: &str) -> Self {
        KeyPath(vec![Segment::Key(key.to_owned())])
    }

    /// This path extended by a table key.
    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        KeyPath(segments)
    }

    /// This path extended by an array index.
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        KeyPath(segments)
    }

    /// The segments, outermost first.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// This path extended by a path that `serde_path_to_error` reported
    /// relative to it.
    pub(crate) fn join_serde(&self, path: &serde_path_to_error::Path) -> Self {
        let mut joined = self.clone();
        for segment in path.iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => joined.0.push(Segment::Index(*index)),
                serde_path_to_error::Segment::Map { key } => joined.0.push(Segment::Key(key.clone())),
                serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
            }
        }
        joined
    }

    /// This path extended by a path that `serde_ignored` reported relative to it.
    pub(crate) fn join_ignored(&self, path: &serde_ignored::Path<'_>) -> Self {
        fn collect(path: &serde_ignored::Path<'_>, out: &mut Vec<Segment>) {
            match path {
                serde_ignored::Path::Root => {}
                serde_ignored::Path::Seq { parent, index } => {
                    collect(parent, out);
                    out.push(Segment::Index(*index));
                }
                serde_ignored::Path::Map { parent, key } => {
                    collect(parent, out);
                    out.push(Segment::Key(key.clone()));
                }
                serde_ignored::Path::Some { parent }
                | serde_ignored::Path::NewtypeStruct { parent }
                | serde_ignored::Path::NewtypeVariant { parent } => collect(parent, out),
            }
        }
        let mut joined = self.clone();
        collect(path, &mut joined.0);
        joined
    }

    /// The 1-based line the key (or the closest enclosing key that exists in
    /// the file) is written on.
    pub(crate) fn line_in(&self, doc: &toml_edit::Document<String>) -> Option<usize> {
        enum Cursor<'a> {
            Table(&'a dyn toml_edit::TableLike),
            Tables(&'a toml_edit::ArrayOfTables),
            Array(&'a toml_edit::Array),
            Leaf,
        }
        fn of_item(item: &toml_edit::Item) -> Cursor<'_> {
            match item {
                toml_edit::Item::ArrayOfTables(tables) => Cursor::Tables(tables),
                toml_edit::Item::Value(value) => of_value(value),
                other => other.as_table_like().map_or(Cursor::Leaf, Cursor::Table),
            }
        }
        fn of_value(value: &toml_edit::Value) -> Cursor<'_> {
            match value {
                toml_edit::Value::Array(array) => Cursor::Array(array),
                toml_edit::Value::InlineTable(table) => Cursor::Table(table),
                _ => Cursor::Leaf,
            }
        }

        let mut cursor: Cursor<'_> = Cursor::Table(doc.as_table());
        let mut best: Option<std::ops::Range<usize>> = None;
        for segment in &self.0 {
            cursor = match (segment, cursor) {
                (Segment::Key(key), Cursor::Table(table)) => match table.get_key_value(key) {
                    Some((found, item)) => {
                        best = found.span().or(best);
                        of_item(item)
                    }
                    None => break,
                },
                (Segment::Index(index), Cursor::Tables(tables)) => match tables.get(*index) {
                    Some(table) => {
                        best = table.span().or(best);
                        Cursor::Table(table)
                    }
                    None => break,
                },
                (Segment::Index(index), Cursor::Array(array)) => match array.get(*index) {
                    Some(value) => {
                        best = value.span().or(best);
                        of_value(value)
                    }
                    None => break,
                },
                _ => break,
            };
        }
        best.map(|span| line_of(doc.raw(), span.start))
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|&&b| b == b'\n').count() + 1
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}
