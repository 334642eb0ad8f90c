//! Command-line helpers shared by the three programs (spec §1.1): positional arguments and
//! `--name VALUE` options in any order, decimal numbers checked against their range.

use crate::Failure;

/// A command line split into its positional arguments and its options.
#[derive(Debug, Default)]
pub struct Split {
    /// The arguments that are not options, in order.
    pub positional: Vec<String>,
    /// `(option, value)` pairs, each option at most once, e.g. `("--timeout-ms", "500")`.
    pub options: Vec<(String, String)>,
}

impl Split {
    /// The value of `option`, if it was given.
    pub fn option(&self, option: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(name, _)| name == option)
            .map(|(_, value)| value.as_str())
    }
}

/// Splits `args` into positional arguments and options. Any argument starting with `--` is an
/// option and must be one of `known`; its value is the next argument. An unknown option, a
/// missing value or a repeated option is a usage error.
pub fn split(args: &[String], known: &[&str]) -> Result<Split, Failure> {
    let mut split = Split::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if !arg.starts_with("--") {
            split.positional.push(arg.clone());
            continue;
        }
        if !known.contains(&arg.as_str()) {
            return Err(Failure::Usage(format!("unknown option {arg}")));
        }
        if split.option(arg).is_some() {
            return Err(Failure::Usage(format!("option {arg} given twice")));
        }
        let Some(value) = it.next() else {
            return Err(Failure::Usage(format!("option {arg} needs a value")));
        };
        split.options.push((arg.clone(), value.clone()));
    }
    Ok(split)
}

/// Parses `text` as a decimal number from `min` to `max` (digits only: no sign, no spaces).
/// `what` names the argument in the error message.
pub fn number(what: &str, text: &str, min: u64, max: u64) -> Result<u64, Failure> {
    let value = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>().ok()
    } else {
        None
    };
    match value {
        Some(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(Failure::Usage(format!(
            "{what} must be a whole number from {min} to {max}, got \"{text}\""
        ))),
    }
}

/// The `--timeout-ms` option: the bound of every wait, in milliseconds (spec §1.4).
pub fn timeout_ms(split: &Split) -> Result<u64, Failure> {
    match split.option("--timeout-ms") {
        Some(text) => number("--timeout-ms", text, 1, MAX_MS),
        None => Ok(DEFAULT_TIMEOUT_MS),
    }
}

/// Default bound of every wait for a peer: 5 seconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// Largest value accepted by the millisecond options: one hour.
pub const MAX_MS: u64 = 3_600_000;
/// Largest number of rounds (and of increments): one million.
pub const MAX_ROUNDS: u64 = 1_000_000;
/// Largest ring: 16 processes.
pub const MAX_RING: u64 = 16;
