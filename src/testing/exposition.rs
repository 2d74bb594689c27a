//! A checker for the Prometheus text exposition format (version 0.0.4), for tests that
//! scrape `/metrics` where `promtool` is not installed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One sample line: `name{label="value",...} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name (for histograms, with its `_bucket`, `_sum` or `_count` suffix).
    pub name: String,
    /// Its labels, unescaped.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// A scrape that passed [`check_exposition`]: its samples and each family's type.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    /// Every sample, in order.
    pub samples: Vec<Sample>,
    /// Each metric family's `# TYPE`.
    pub types: BTreeMap<String, String>,
    /// Each metric family's `# HELP` text.
    pub help: BTreeMap<String, String>,
}

impl Exposition {
    /// The samples named `name` whose labels include every `(label, value)` of `labels`.
    pub fn samples<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The sum of the values of [`samples`](Self::samples), `None` if there are none.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = false;
        let sum = self
            .samples(name, labels)
            .inspect(|_| found = true)
            .map(|s| s.value)
            .sum();
        found.then_some(sum)
    }
}

/// The rule a scrape broke, with its line number (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpositionError {
    /// The line it was found on (0: the scrape as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ExpositionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ExpositionError {}

/// Checks `text` against the Prometheus text format's rules, and ours: metric names match
/// `[a-zA-Z_:][a-zA-Z0-9_:]*` and label names `[a-zA-Z_][a-zA-Z0-9_]*` (not `__`-prefixed);
/// label values are quoted with only `\\`, `\"` and `\n` escaped; values are floats (or
/// `+Inf`, `-Inf`, `NaN`); `# HELP` and `# TYPE` come at most once per family and before its
/// samples, whose lines are contiguous; every counter's name ends in `_total`; histograms
/// have cumulative `_bucket`s ending at `le="+Inf"` equal to `_count`, and a `_sum`; no
/// sample is repeated.
///
/// ```
/// let text = "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total{queue=\"a\\\"b\"} 3\n";
/// let scrape = timely_kafka::testing::check_exposition(text).unwrap();
/// assert_eq!(scrape.sum("jobs_total", &[("queue", "a\"b")]), Some(3.0));
/// assert!(timely_kafka::testing::check_exposition("# TYPE jobs counter\njobs 1\n").is_err());
/// ```
pub fn check_exposition(text: &str) -> Result<Exposition, ExpositionError> {
    let mut out = Exposition::default();
    let mut seen_samples: BTreeSet<(String, Vec<(String, String)>)> = BTreeSet::new();
    let mut families_done: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let err = |message: String| ExpositionError { line: n, message };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            let (keyword, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if keyword != "HELP" && keyword != "TYPE" {
                continue; // A plain comment.
            }
            let (name, value) = tail.split_once(' ').unwrap_or((tail, ""));
            if !is_metric_name(name) {
                return Err(err(format!("bad metric name {name:?} in # {keyword}")));
            }
            if families_done.contains(name) {
                return Err(err(format!("# {keyword} for {name} after its samples")));
            }
            enter_family(name, &mut current, &mut families_done);
            if keyword == "HELP" {
                check_help(value).map_err(err)?;
                if out.help.insert(name.to_owned(), value.to_owned()).is_some() {
                    return Err(err(format!("second # HELP for {name}")));
                }
            } else {
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&value) {
                    return Err(err(format!("unknown type {value:?} for {name}")));
                }
                if value == "counter" && !name.ends_with("_total") {
                    return Err(err(format!("counter {name} does not end in _total")));
                }
                if out
                    .types
                    .insert(name.to_owned(), value.to_owned())
                    .is_some()
                {
                    return Err(err(format!("second # TYPE for {name}")));
                }
            }
            continue;
        }
        let sample = parse_sample(line).map_err(err)?;
        let family = family_of(&sample.name, &out.types);
        if families_done.contains(&family) {
            return Err(err(format!(
                "samples of {family} are not contiguous (seen again at {})",
                sample.name
            )));
        }
        enter_family(&family, &mut current, &mut families_done);
        let key = (
            sample.name.clone(),
            sample
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        if !seen_samples.insert(key) {
            return Err(err(format!("sample {} repeated", sample.name)));
        }
        if out.types.get(&family).map(String::as_str) == Some("counter") && sample.value < 0.0 {
            return Err(err(format!("counter {} is negative", sample.name)));
        }
        out.samples.push(sample);
    }
    check_histograms(&out)?;
    Ok(out)
}

/// Moves to `family`: the previous one's lines are then over.
fn enter_family(family: &str, current: &mut Option<String>, done: &mut BTreeSet<String>) {
    if current.as_deref() != Some(family) {
        if let Some(previous) = current.replace(family.to_owned()) {
            done.insert(previous);
        }
    }
}

/// The family a sample belongs to: a histogram's or summary's base name for its suffixed
/// samples.
fn family_of(name: &str, types: &BTreeMap<String, String>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if matches!(
                types.get(base).map(String::as_str),
                Some("histogram" | "summary")
            ) {
                return base.to_owned();
            }
        }
    }
    name.to_owned()
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    !name.starts_with("__")
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// HELP text escapes only `\\` and `\n`.
fn check_help(text: &str) -> Result<(), String> {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && !matches!(chars.next(), Some('\\' | 'n')) {
            return Err(format!("bad escape in HELP text {text:?}"));
        }
    }
    Ok(())
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| format!("no value on {line:?}"))?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, tail) = parse_labels(after)?;
        for (k, v) in parsed {
            if labels.insert(k.clone(), v).is_some() {
                return Err(format!("label {k} twice on {name}"));
            }
        }
        rest = tail;
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("no space before the value on {line:?}"))?;
    let mut fields = rest.split(' ');
    let value_text = fields.next().unwrap_or("");
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v
            .parse::<f64>()
            .map_err(|_| format!("bad value {v:?} on {name}"))?,
    };
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("bad timestamp {timestamp:?} on {name}"))?;
    }
    if fields.next().is_some() {
        return Err(format!("trailing text on {line:?}"));
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Label names and values, in order.
type Labels = Vec<(String, String)>;

/// Parses `name="value",...}` and returns the labels and what follows the `}`.
fn parse_labels(mut s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    loop {
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = s.find('=').ok_or("a label without '='")?;
        let name = &s[..eq];
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut chars = s[eq + 1..].char_indices();
        if chars.next().map(|(_, c)| c) != Some('"') {
            return Err(format!("label {name}'s value is not quoted"));
        }
        let mut value = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(eq + 1 + i + 1);
                    break;
                }
                '\\' => match chars.next().map(|(_, c)| c) {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    other => return Err(format!("bad escape \\{other:?} in label {name}")),
                },
                '\n' => return Err(format!("raw newline in label {name}")),
                c => value.push(c),
            }
        }
        let end = end.ok_or_else(|| format!("label {name}'s value is not closed"))?;
        labels.push((name.to_owned(), value));
        s = &s[end..];
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err(format!("expected ',' or '}}' after label {name}"));
        }
    }
}

/// Histograms: per label set, `_bucket`s with `le`, cumulative, ending at `+Inf` equal to
/// `_count`, and a `_sum`.
fn check_histograms(out: &Exposition) -> Result<(), ExpositionError> {
    let whole = |message: String| ExpositionError { line: 0, message };
    for (family, kind) in &out.types {
        if kind != "histogram" {
            continue;
        }
        type Series = BTreeMap<Vec<(String, String)>, Vec<(f64, f64)>>;
        let mut buckets: Series = BTreeMap::new();
        let without_le = |s: &Sample| -> Vec<(String, String)> {
            s.labels
                .iter()
                .filter(|(k, _)| *k != "le")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        for s in out
            .samples
            .iter()
            .filter(|s| s.name == format!("{family}_bucket"))
        {
            let le = s
                .labels
                .get("le")
                .ok_or_else(|| whole(format!("{family}_bucket without le")))?;
            let bound = match le.as_str() {
                "+Inf" => f64::INFINITY,
                v => v
                    .parse()
                    .map_err(|_| whole(format!("{family}_bucket le={v:?}")))?,
            };
            buckets
                .entry(without_le(s))
                .or_default()
                .push((bound, s.value));
        }
        for (labels, mut series) in buckets {
            series.sort_by(|a, b| a.0.total_cmp(&b.0));
            if series.windows(2).any(|w| w[1].1 < w[0].1) {
                return Err(whole(format!("{family} buckets not cumulative")));
            }
            let last = series.last().expect("at least one bucket");
            if last.0 != f64::INFINITY {
                return Err(whole(format!("{family} has no le=\"+Inf\" bucket")));
            }
            let find = |suffix: &str| {
                out.samples
                    .iter()
                    .find(|s| s.name == format!("{family}{suffix}") && without_le(s) == labels)
            };
            let count = find("_count").ok_or_else(|| whole(format!("{family} without _count")))?;
            if count.value != last.1 {
                return Err(whole(format!("{family}: +Inf bucket != _count")));
            }
            find("_sum").ok_or_else(|| whole(format!("{family} without _sum")))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_well_formed_scrape() {
        let text = "\
# HELP req_total Requests.
# TYPE req_total counter
req_total{code=\"200\",path=\"a\\\\b\\n\"} 10
req_total{code=\"500\",path=\"/\"} 1 1700000000000

# TYPE lat_seconds histogram
lat_seconds_bucket{le=\"0.1\"} 1
lat_seconds_bucket{le=\"+Inf\"} 3
lat_seconds_sum 0.9
lat_seconds_count 3
# TYPE up gauge
up NaN
";
        let scrape = check_exposition(text).unwrap();
        assert_eq!(scrape.sum("req_total", &[]), Some(11.0));
        assert_eq!(
            scrape.samples("req_total", &[("path", "a\\b\n")]).count(),
            1
        );
        assert_eq!(scrape.types["lat_seconds"], "histogram");
    }

    #[test]
    fn refuses_what_prometheus_would() {
        let bad = [
            "# TYPE reqs counter\nreqs 1\n",
            "1bad 1\n",
            "m{l=\"x\\t\"} 1\n",
            "m{l=x} 1\n",
            "m{__l=\"x\"} 1\n",
            "m one\n",
            "# TYPE m gauge\n# TYPE m gauge\nm 1\n",
            "a 1\nb 1\na 2\n",
            "m 1\nm 1\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n",
            "# HELP m bad \\t escape\nm 1\n",
            "# TYPE c_total counter\nc_total -1\n",
        ];
        for text in bad {
            assert!(check_exposition(text).is_err(), "accepted {text:?}");
        }
    }
}
