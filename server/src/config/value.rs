//! Typed parsing of configuration-setting values (bool, integer with units,
//! enum, string), mirroring PostgreSQL's `parse_bool`, `parse_int`,
//! `config_enum_lookup_by_name` and `parse_and_validate_value`
//! (`guc.c`, `bool.c`), including their exact error and hint texts. Numbers go
//! through the C library's `strtol`/`strtod`, as in PostgreSQL.
//!
//! PostgreSQL works on NUL-terminated C strings; to behave identically, every
//! function here treats its input as ending at the first NUL character.

use std::fmt;

/// SQLSTATE `invalid_parameter_value`, the code PostgreSQL attaches to every
/// error produced by this module.
pub const ERRCODE_INVALID_PARAMETER_VALUE: &str = "22023";

/// `BLCKSZ` of a default PostgreSQL build (used by [`Unit::Blocks`]).
pub const BLCKSZ: u32 = 8192;
/// `XLOG_BLCKSZ` of a default PostgreSQL build (used by [`Unit::XBlocks`]).
pub const XLOG_BLCKSZ: u32 = 8192;
/// `NAMEDATALEN` of a default PostgreSQL build; names keep at most
/// `NAMEDATALEN - 1` bytes.
pub const NAMEDATALEN: usize = 64;

/// HINT for a memory setting given an unknown unit.
pub const MEMORY_UNITS_HINT: &str =
    "Valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\".";
/// HINT for a time setting given an unknown unit.
pub const TIME_UNITS_HINT: &str =
    "Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\".";
/// HINT for an integer setting whose value does not fit in 32 bits.
pub const INTEGER_RANGE_HINT: &str = "Value exceeds integer range.";

/// The base unit of a numeric setting (PostgreSQL's `GUC_UNIT_*` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Unit {
    /// Unitless: a unit suffix is a syntax error.
    #[default]
    None,
    /// `GUC_UNIT_BYTE`, shown as `B`.
    Byte,
    /// `GUC_UNIT_KB`, shown as `kB`.
    Kb,
    /// `GUC_UNIT_MB`, shown as `MB`.
    Mb,
    /// `GUC_UNIT_BLOCKS` (`BLCKSZ` bytes), shown as `8kB`.
    Blocks,
    /// `GUC_UNIT_XBLOCKS` (`XLOG_BLCKSZ` bytes), shown as `8kB`.
    XBlocks,
    /// `GUC_UNIT_MS`, shown as `ms`.
    Ms,
    /// `GUC_UNIT_S`, shown as `s`.
    S,
    /// `GUC_UNIT_MIN`, shown as `min`.
    Min,
}

impl Unit {
    /// The unit's name as `get_config_unit_name` reports it, or `None` for a
    /// unitless setting.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Unit::None => None,
            Unit::Byte => Some("B"),
            Unit::Kb => Some("kB"),
            Unit::Mb => Some("MB"),
            // "%dkB" with BLCKSZ / 1024 and XLOG_BLCKSZ / 1024 (both 8).
            Unit::Blocks | Unit::XBlocks => Some("8kB"),
            Unit::Ms => Some("ms"),
            Unit::S => Some("s"),
            Unit::Min => Some("min"),
        }
    }

    /// True for the memory units (`GUC_UNIT_MEMORY`).
    pub fn is_memory(self) -> bool {
        matches!(
            self,
            Unit::Byte | Unit::Kb | Unit::Mb | Unit::Blocks | Unit::XBlocks
        )
    }

    /// True for the time units (`GUC_UNIT_TIME`).
    pub fn is_time(self) -> bool {
        matches!(self, Unit::Ms | Unit::S | Unit::Min)
    }

    /// The HINT PostgreSQL gives when this setting is given a bad unit.
    pub fn units_hint(self) -> Option<&'static str> {
        if self.is_memory() {
            Some(MEMORY_UNITS_HINT)
        } else if self.is_time() {
            Some(TIME_UNITS_HINT)
        } else {
            None
        }
    }
}

/// One row of PostgreSQL's unit conversion tables.
struct UnitConversion {
    unit: &'static str,
    base: Unit,
    multiplier: f64,
}

const fn conv(unit: &'static str, base: Unit, multiplier: f64) -> UnitConversion {
    UnitConversion {
        unit,
        base,
        multiplier,
    }
}

const KIB: f64 = 1024.0;
const BLOCK_KB: f64 = (BLCKSZ / 1024) as f64;
const XBLOCK_KB: f64 = (XLOG_BLCKSZ / 1024) as f64;

/// `memory_unit_conversion_table`: per base unit, ordered from the greatest
/// unit to the smallest (the rounding step relies on that order).
const MEMORY_UNITS: &[UnitConversion] = &[
    conv("TB", Unit::Byte, KIB * KIB * KIB * KIB),
    conv("GB", Unit::Byte, KIB * KIB * KIB),
    conv("MB", Unit::Byte, KIB * KIB),
    conv("kB", Unit::Byte, KIB),
    conv("B", Unit::Byte, 1.0),
    conv("TB", Unit::Kb, KIB * KIB * KIB),
    conv("GB", Unit::Kb, KIB * KIB),
    conv("MB", Unit::Kb, KIB),
    conv("kB", Unit::Kb, 1.0),
    conv("B", Unit::Kb, 1.0 / KIB),
    conv("TB", Unit::Mb, KIB * KIB),
    conv("GB", Unit::Mb, KIB),
    conv("MB", Unit::Mb, 1.0),
    conv("kB", Unit::Mb, 1.0 / KIB),
    conv("B", Unit::Mb, 1.0 / (KIB * KIB)),
    conv("TB", Unit::Blocks, (KIB * KIB * KIB) / BLOCK_KB),
    conv("GB", Unit::Blocks, (KIB * KIB) / BLOCK_KB),
    conv("MB", Unit::Blocks, KIB / BLOCK_KB),
    conv("kB", Unit::Blocks, 1.0 / BLOCK_KB),
    conv("B", Unit::Blocks, 1.0 / BLCKSZ as f64),
    conv("TB", Unit::XBlocks, (KIB * KIB * KIB) / XBLOCK_KB),
    conv("GB", Unit::XBlocks, (KIB * KIB) / XBLOCK_KB),
    conv("MB", Unit::XBlocks, KIB / XBLOCK_KB),
    conv("kB", Unit::XBlocks, 1.0 / XBLOCK_KB),
    conv("B", Unit::XBlocks, 1.0 / XLOG_BLCKSZ as f64),
];

/// `time_unit_conversion_table`, same ordering rule as [`MEMORY_UNITS`].
const TIME_UNITS: &[UnitConversion] = &[
    conv("d", Unit::Ms, (1000 * 60 * 60 * 24) as f64),
    conv("h", Unit::Ms, (1000 * 60 * 60) as f64),
    conv("min", Unit::Ms, (1000 * 60) as f64),
    conv("s", Unit::Ms, 1000.0),
    conv("ms", Unit::Ms, 1.0),
    conv("us", Unit::Ms, 1.0 / 1000.0),
    conv("d", Unit::S, (60 * 60 * 24) as f64),
    conv("h", Unit::S, (60 * 60) as f64),
    conv("min", Unit::S, 60.0),
    conv("s", Unit::S, 1.0),
    conv("ms", Unit::S, 1.0 / 1000.0),
    conv("us", Unit::S, 1.0 / (1000.0 * 1000.0)),
    conv("d", Unit::Min, (60 * 24) as f64),
    conv("h", Unit::Min, 60.0),
    conv("min", Unit::Min, 1.0),
    conv("s", Unit::Min, 1.0 / 60.0),
    conv("ms", Unit::Min, 1.0 / (1000.0 * 60.0)),
    conv("us", Unit::Min, 1.0 / (1000.0 * 1000.0 * 60.0)),
];

/// Longest recognised unit string (`MAX_UNIT_LEN`).
const MAX_UNIT_LEN: usize = 3;

/// Why [`parse_int`] rejected a value: PostgreSQL reports
/// all of these as `invalid value for parameter ...`, with this HINT if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberSyntaxError {
    /// The HINT PostgreSQL attaches, if any.
    pub hint: Option<&'static str>,
}

/// Errors from validating a setting's value, with PostgreSQL's texts.
///
/// `Display` (and [`ValueError::message`]) is the primary message; PostgreSQL
/// logs it as `LOG:  <message>` followed by `HINT:  <hint>` when
/// [`ValueError::hint`] is `Some`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// A boolean setting was given something `parse_bool` rejects.
    #[error("parameter \"{name}\" requires a Boolean value")]
    NotBoolean {
        /// Setting name.
        name: String,
    },
    /// A numeric or enum value that does not parse.
    #[error("invalid value for parameter \"{name}\": \"{value}\"")]
    InvalidValue {
        /// Setting name.
        name: String,
        /// The value as given (up to its first NUL).
        value: String,
        /// The accompanying HINT, if PostgreSQL gives one.
        hint: Option<String>,
    },
    /// An integer setting's value (after unit conversion) is out of range.
    #[error(
        "{} is outside the valid range for parameter \"{name}\" ({} .. {})",
        with_unit(.value, *.unit),
        with_unit(.min, if *.unit_on_bounds { *.unit } else { Unit::None }),
        with_unit(.max, if *.unit_on_bounds { *.unit } else { Unit::None })
    )]
    IntOutOfRange {
        /// Setting name.
        name: String,
        /// The converted value.
        value: i32,
        /// Lower bound.
        min: i32,
        /// Upper bound.
        max: i32,
        /// The setting's base unit.
        unit: Unit,
        /// The bounds carry the unit too (16+: `(1 s .. 600 s)`; 15: `(1 .. 600)`).
        unit_on_bounds: bool,
    },
}

impl ValueError {
    /// The primary message (`errmsg`), exactly as PostgreSQL words it.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The HINT (`errhint`), if PostgreSQL gives one.
    pub fn hint(&self) -> Option<&str> {
        match self {
            ValueError::InvalidValue { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }

    /// The SQLSTATE PostgreSQL reports (always `22023`).
    pub fn sqlstate(&self) -> &'static str {
        ERRCODE_INVALID_PARAMETER_VALUE
    }

    /// The same error worded as PostgreSQL 15 and earlier word range errors: the bounds
    /// without their unit.
    pub fn with_unitless_bounds(self) -> Self {
        match self {
            ValueError::IntOutOfRange {
                name,
                value,
                min,
                max,
                unit,
                ..
            } => ValueError::IntOutOfRange {
                name,
                value,
                min,
                max,
                unit,
                unit_on_bounds: false,
            },
            other => other,
        }
    }

    /// The setting the error is about.
    pub fn name(&self) -> &str {
        match self {
            ValueError::NotBoolean { name }
            | ValueError::InvalidValue { name, .. }
            | ValueError::IntOutOfRange { name, .. } => name,
        }
    }
}

/// `"%d%s%s"` with `unitspace`/`unit` as in `parse_and_validate_value`.
fn with_unit(value: &dyn fmt::Display, unit: Unit) -> String {
    match unit.name() {
        Some(u) => format!("{value} {u}"),
        None => value.to_string(),
    }
}

/// The part of `s` a C function would see: everything before the first NUL.
fn c_str(s: &str) -> &str {
    s.split('\0').next().unwrap_or_default()
}

/// C `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `rint` under the default rounding mode: round half to even.
fn rint(v: f64) -> f64 {
    v.round_ties_even()
}

// ---------------------------------------------------------------------------
// Booleans
// ---------------------------------------------------------------------------

/// PostgreSQL's `parse_bool`: `true`, `false`, `yes`, `no`, `on`, `off`, `1`,
/// `0`, or any unique prefix of the words (at least two letters for
/// `on`/`off`), ASCII case-insensitive, no surrounding whitespace.
pub fn parse_bool(value: &str) -> Option<bool> {
    let value = c_str(value).as_bytes();
    // `value` is a prefix of `word` of at least `min_len` bytes.
    let prefix_of = |word: &str, min_len: usize| {
        value.len() >= min_len
            && value.len() <= word.len()
            && word.as_bytes()[..value.len()].eq_ignore_ascii_case(value)
    };
    match value.first()? {
        b't' | b'T' => prefix_of("true", 1).then_some(true),
        b'f' | b'F' => prefix_of("false", 1).then_some(false),
        b'y' | b'Y' => prefix_of("yes", 1).then_some(true),
        b'n' | b'N' => prefix_of("no", 1).then_some(false),
        // A lone "o" is not unique enough.
        b'o' | b'O' => {
            if prefix_of("on", 2) {
                Some(true)
            } else if prefix_of("off", 2) {
                Some(false)
            } else {
                None
            }
        }
        b'1' if value.len() == 1 => Some(true),
        b'0' if value.len() == 1 => Some(false),
        _ => None,
    }
}

/// Validate a boolean setting (`PGC_BOOL` in `parse_and_validate_value`).
pub fn validate_bool(name: &str, value: &str) -> Result<bool, ValueError> {
    parse_bool(value).ok_or_else(|| ValueError::NotBoolean {
        name: name.to_owned(),
    })
}

// ---------------------------------------------------------------------------
// Numbers: the C library's strtol/strtod
// ---------------------------------------------------------------------------

/// Result of a C numeric conversion: value, index just past the converted text (0 when
/// nothing was converted, like `endptr == str`), and whether `errno` was `ERANGE`.
struct Conversion {
    value: f64,
    end: usize,
    erange: bool,
}

const NO_CONVERSION: Conversion = Conversion {
    value: 0.0,
    end: 0,
    erange: false,
};

fn skip_spaces(s: &[u8], mut i: usize) -> usize {
    while s.get(i).copied().is_some_and(is_c_space) {
        i += 1;
    }
    i
}

/// Runs a C conversion function on `s` (which holds no NUL: callers cut it at the first one
/// with [`c_str`], as a C string ends there) with `errno` cleared first, as `parse_int`
/// does. The process never calls `setlocale`, so it stays in the "C" locale that
/// PostgreSQL's postmaster uses for numbers (`LC_NUMERIC=C`).
fn c_convert(
    s: &[u8],
    convert: impl FnOnce(*const libc::c_char, *mut *mut libc::c_char) -> f64,
) -> Conversion {
    let Ok(text) = std::ffi::CString::new(s) else {
        return NO_CONVERSION;
    };
    let start = text.as_ptr();
    let mut end = start.cast_mut();
    // SAFETY: errno is the calling thread's own variable.
    unsafe { *libc::__errno_location() = 0 };
    let value = convert(start, &mut end);
    // SAFETY: as above.
    let erange = unsafe { *libc::__errno_location() } == libc::ERANGE;
    // `end` points into `text`, at or after `start` (the functions set it so).
    let end = (end as usize).saturating_sub(start as usize).min(s.len());
    Conversion { value, end, erange }
}

/// `strtol(s, &end, 0)` (a 64-bit `long`): optional whitespace and sign, then `0x` hex,
/// leading-`0` octal, or decimal; the value as `(double)`, as in `parse_int`.
fn strtol(s: &[u8]) -> Conversion {
    c_convert(s, |start, end| {
        // SAFETY: `start` is a NUL-terminated string that outlives the call and `end` a
        // valid place for the end pointer.
        (unsafe { libc::strtol(start, end, 0) }) as f64
    })
}

/// `strtod(s, &end)`: optional whitespace and sign, then `inf`/`infinity`/`nan`/`nan(...)`,
/// a hexadecimal float (`0x1.8p3`) or a decimal float; `ERANGE` on overflow and underflow.
fn strtod(s: &[u8]) -> Conversion {
    c_convert(s, |start, end| {
        // SAFETY: as in `strtol`.
        unsafe { libc::strtod(start, end) }
    })
}

/// `convert_to_base_unit`: interpret `unit` (up to 3 bytes, optionally
/// followed by whitespace) for a setting whose base unit is `base`, and
/// round fractional input to a multiple of the next smaller unit.
fn convert_to_base_unit(value: f64, unit: &[u8], base: Unit) -> Option<f64> {
    let len = unit
        .iter()
        .take(MAX_UNIT_LEN)
        .take_while(|&&b| !is_c_space(b))
        .count();
    let unit_str = &unit[..len];
    if skip_spaces(unit, len) != unit.len() {
        return None; // unit too long, or garbage after it
    }
    let table = if base.is_memory() {
        MEMORY_UNITS
    } else {
        TIME_UNITS
    };
    let idx = table
        .iter()
        .position(|row| row.base == base && row.unit.as_bytes() == unit_str)?;
    let mut cvalue = value * table[idx].multiplier;
    if let Some(next) = table.get(idx + 1).filter(|next| next.base == base) {
        cvalue = rint(cvalue / next.multiplier) * next.multiplier;
    }
    Some(cvalue)
}

/// The tail of `parse_int` (shared with `parse_real` in PostgreSQL): NaN check, whitespace,
/// unit.
fn apply_unit(s: &[u8], conv: Conversion, unit: Unit) -> Result<f64, NumberSyntaxError> {
    const NO_HINT: NumberSyntaxError = NumberSyntaxError { hint: None };
    if conv.end == 0 || conv.erange || conv.value.is_nan() {
        return Err(NO_HINT);
    }
    let rest = &s[skip_spaces(s, conv.end)..];
    if rest.is_empty() {
        return Ok(conv.value);
    }
    if unit == Unit::None {
        return Err(NO_HINT); // this setting does not accept a unit
    }
    convert_to_base_unit(conv.value, rest, unit).ok_or(NumberSyntaxError {
        hint: unit.units_hint(),
    })
}

/// PostgreSQL's `parse_int`: decimal, octal (`010`), hex (`0x1F`) or
/// floating-point input, optionally followed by a unit of `unit`'s family;
/// the result (in `unit`) is rounded half-to-even and must fit in an `i32`.
pub fn parse_int(value: &str, unit: Unit) -> Result<i32, NumberSyntaxError> {
    let s = c_str(value).as_bytes();
    let mut conv = strtol(s);
    // Re-parse as a float if strtol stopped at a decimal point or exponent,
    // or overflowed.
    // (When nothing was converted, `end` is 0, so this looks at the first
    // byte, exactly like C's `*endptr` with `endptr == value`.)
    if conv.erange || matches!(s.get(conv.end), Some(b'.' | b'e' | b'E')) {
        conv = strtod(s);
    }
    let val = rint(apply_unit(s, conv, unit)?);
    if val > f64::from(i32::MAX) || val < f64::from(i32::MIN) {
        return Err(NumberSyntaxError {
            hint: Some(INTEGER_RANGE_HINT),
        });
    }
    Ok(val as i32)
}

/// Limits and unit of an integer setting (`struct config_int`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntSpec {
    /// Smallest allowed value, in `unit`.
    pub min: i32,
    /// Largest allowed value, in `unit`.
    pub max: i32,
    /// Base unit.
    pub unit: Unit,
}

fn invalid_value(name: &str, value: &str, hint: Option<String>) -> ValueError {
    ValueError::InvalidValue {
        name: name.to_owned(),
        value: c_str(value).to_owned(),
        hint,
    }
}

/// Validate an integer setting (`PGC_INT` in `parse_and_validate_value`).
pub fn validate_int(name: &str, value: &str, spec: &IntSpec) -> Result<i32, ValueError> {
    let v = parse_int(value, spec.unit)
        .map_err(|e| invalid_value(name, value, e.hint.map(str::to_owned)))?;
    if v < spec.min || v > spec.max {
        return Err(ValueError::IntOutOfRange {
            name: name.to_owned(),
            value: v,
            min: spec.min,
            max: spec.max,
            unit: spec.unit,
            unit_on_bounds: true,
        });
    }
    Ok(v)
}

// ---------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------

/// One accepted spelling of an enum setting (`struct config_enum_entry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumOption<T> {
    /// The spelling, matched ASCII case-insensitively.
    pub name: &'static str,
    /// The value it selects.
    pub value: T,
    /// Hidden options are accepted but not listed in the HINT.
    pub hidden: bool,
}

impl<T> EnumOption<T> {
    /// A visible option.
    pub const fn new(name: &'static str, value: T) -> Self {
        EnumOption {
            name,
            value,
            hidden: false,
        }
    }

    /// A hidden option (accepted, not advertised).
    pub const fn hidden(name: &'static str, value: T) -> Self {
        EnumOption {
            name,
            value,
            hidden: true,
        }
    }
}

/// `config_enum_lookup_by_name`: the first option whose name equals `value`
/// ignoring ASCII case.
pub fn lookup_enum<T: Copy>(options: &[EnumOption<T>], value: &str) -> Option<T> {
    let value = c_str(value);
    options
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case(value))
        .map(|o| o.value)
}

/// The HINT for a bad enum value: `Available values: a, b, c.` listing the
/// non-hidden options (`config_enum_get_options(record, "Available values: ",
/// ".", ", ")`, including its quirk of trimming two bytes of the prefix when
/// every option is hidden).
pub fn enum_hint<T>(options: &[EnumOption<T>]) -> String {
    const SEPARATOR: &str = ", ";
    let mut hint = String::from("Available values: ");
    for option in options.iter().filter(|o| !o.hidden) {
        hint.push_str(option.name);
        hint.push_str(SEPARATOR);
    }
    // The buffer always ends in two ASCII bytes here (separator or prefix).
    hint.truncate(hint.len() - SEPARATOR.len());
    hint.push('.');
    hint
}

/// Validate an enum setting (`PGC_ENUM` in `parse_and_validate_value`).
pub fn validate_enum<T: Copy>(
    name: &str,
    value: &str,
    options: &[EnumOption<T>],
) -> Result<T, ValueError> {
    lookup_enum(options, value).ok_or_else(|| invalid_value(name, value, Some(enum_hint(options))))
}

// ---------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------

/// A string setting's value after PostgreSQL's built-in processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringValue {
    /// The value to store.
    pub value: String,
    /// A NOTICE PostgreSQL emits (`identifier "%s" will be truncated to
    /// "%s"`) when a `GUC_IS_NAME` value was truncated.
    pub notice: Option<String>,
}

/// Validate a string setting (`PGC_STRING`): the value is taken verbatim (up
/// to a NUL); for `GUC_IS_NAME` settings (`is_name`), it is truncated to
/// `NAMEDATALEN - 1` bytes without splitting a character, as
/// `truncate_identifier` does.
pub fn validate_string(value: &str, is_name: bool) -> StringValue {
    let value = c_str(value);
    if is_name && value.len() >= NAMEDATALEN {
        let mut cut = NAMEDATALEN - 1;
        while !value.is_char_boundary(cut) {
            cut -= 1;
        }
        let truncated = &value[..cut];
        return StringValue {
            value: truncated.to_owned(),
            notice: Some(format!(
                "identifier \"{value}\" will be truncated to \"{truncated}\""
            )),
        };
    }
    StringValue {
        value: value.to_owned(),
        notice: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH_TIMEOUT: IntSpec = IntSpec {
        min: 1,
        max: 600,
        unit: Unit::S,
    };

    fn auth_timeout(v: &str) -> Result<i32, ValueError> {
        validate_int("authentication_timeout", v, &AUTH_TIMEOUT)
    }

    #[test]
    fn bool_words_and_prefixes() {
        for t in ["on", "ON", "true", "t", "tr", "TRU", "yes", "y", "Ye", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["off", "OfF", "of", "false", "f", "fa", "no", "n", "N", "0"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in [
            "", "o", "O", "onn", "offf", "truex", "2", "01", "00", "10", " on", "on ", "yess",
            "nope", "-1",
        ] {
            assert_eq!(parse_bool(bad), None, "{bad:?}");
        }
        // C-string semantics: the value ends at a NUL.
        assert_eq!(parse_bool("on\0garbage"), Some(true));
    }

    #[test]
    fn bool_error_text() {
        let e = validate_bool("ssl", "maybe").unwrap_err();
        assert_eq!(e.message(), "parameter \"ssl\" requires a Boolean value");
        assert_eq!(e.hint(), None);
        assert_eq!(e.sqlstate(), "22023");
        assert_eq!(validate_bool("ssl", "on"), Ok(true));
    }

    #[test]
    fn authentication_timeout_units() {
        assert_eq!(auth_timeout("60"), Ok(60));
        assert_eq!(auth_timeout("60s"), Ok(60));
        assert_eq!(auth_timeout("60 s"), Ok(60));
        assert_eq!(auth_timeout("60s  "), Ok(60));
        assert_eq!(auth_timeout("1min"), Ok(60));
        assert_eq!(auth_timeout("10min"), Ok(600));
        assert_eq!(auth_timeout("1500ms"), Ok(2)); // 1.5 rounds half-to-even
        assert_eq!(auth_timeout("2500ms"), Ok(2));
        assert_eq!(auth_timeout("2501ms"), Ok(3));
        assert_eq!(auth_timeout("0.5min"), Ok(30));
        assert_eq!(auth_timeout("1.5"), Ok(2));
        assert_eq!(auth_timeout("0x1F"), Ok(31));
        assert_eq!(auth_timeout("010"), Ok(8)); // octal, as strtol(..., 0)
        assert_eq!(auth_timeout("+5"), Ok(5));
        assert_eq!(auth_timeout(" 5"), Ok(5));
        assert_eq!(auth_timeout("1e2"), Ok(100));
        assert_eq!(auth_timeout("1000000us"), Ok(1));
    }

    #[test]
    fn authentication_timeout_500ms_rounds_half_to_even() {
        // 500 * (1/1000) = 0.5 s, re-rounded to whole microseconds (still
        // 0.5), then rint(0.5) = 0 under round-half-to-even: out of range.
        assert_eq!(parse_int("500ms", Unit::S), Ok(0));
        assert_eq!(
            auth_timeout("500ms").unwrap_err().message(),
            "0 s is outside the valid range for parameter \"authentication_timeout\" (1 s .. 600 s)"
        );
        assert_eq!(auth_timeout("501ms"), Ok(1));
    }

    #[test]
    fn int_range_error_text() {
        let e = auth_timeout("2h").unwrap_err();
        assert_eq!(
            e.message(),
            "7200 s is outside the valid range for parameter \"authentication_timeout\" (1 s .. 600 s)"
        );
        assert_eq!(e.hint(), None);
        let e = auth_timeout("-1").unwrap_err();
        assert_eq!(
            e.message(),
            "-1 s is outside the valid range for parameter \"authentication_timeout\" (1 s .. 600 s)"
        );
        let port = IntSpec {
            min: 1,
            max: 65535,
            unit: Unit::None,
        };
        assert_eq!(
            validate_int("port", "70000", &port)
                .unwrap_err()
                .to_string(),
            "70000 is outside the valid range for parameter \"port\" (1 .. 65535)"
        );
        let blocks = IntSpec {
            min: 16,
            max: 1000,
            unit: Unit::Blocks,
        };
        assert_eq!(
            validate_int("shared_buffers", "1GB", &blocks)
                .unwrap_err()
                .to_string(),
            "131072 8kB is outside the valid range for parameter \"shared_buffers\" (16 8kB .. 1000 8kB)"
        );
    }

    #[test]
    fn int_invalid_value_texts() {
        let e = auth_timeout("60 sec").unwrap_err();
        assert_eq!(
            e.message(),
            "invalid value for parameter \"authentication_timeout\": \"60 sec\""
        );
        assert_eq!(
            e.hint(),
            Some(
                "Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\"."
            )
        );
        // Units are case-sensitive.
        assert_eq!(
            auth_timeout("60S").unwrap_err().hint(),
            Some(TIME_UNITS_HINT)
        );
        assert_eq!(
            auth_timeout("1 min x").unwrap_err().hint(),
            Some(TIME_UNITS_HINT)
        );
        assert_eq!(
            auth_timeout("0x").unwrap_err().hint(),
            Some(TIME_UNITS_HINT)
        );
        // No hint when nothing numeric was found.
        for bad in ["", "abc", "s", " ", "nan", "inf", "-"] {
            let e = auth_timeout(bad).unwrap_err();
            assert_eq!(
                e.message(),
                format!("invalid value for parameter \"authentication_timeout\": \"{bad}\"")
            );
            assert_eq!(e.hint(), None, "{bad:?}");
        }
        // Unitless settings reject any suffix, without a hint.
        let port = IntSpec {
            min: 1,
            max: 65535,
            unit: Unit::None,
        };
        let e = validate_int("port", "5432kB", &port).unwrap_err();
        assert_eq!(
            e.message(),
            "invalid value for parameter \"port\": \"5432kB\""
        );
        assert_eq!(e.hint(), None);
        // Memory hint.
        let kb = IntSpec {
            min: 64,
            max: i32::MAX,
            unit: Unit::Kb,
        };
        let e = validate_int("work_mem", "4mb", &kb).unwrap_err();
        assert_eq!(
            e.message(),
            "invalid value for parameter \"work_mem\": \"4mb\""
        );
        assert_eq!(
            e.hint(),
            Some("Valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\".")
        );
        // Integer overflow.
        let e = validate_int("work_mem", "3TB", &kb).unwrap_err();
        assert_eq!(e.hint(), Some("Value exceeds integer range."));
        let e = validate_int("work_mem", "99999999999999999999", &kb).unwrap_err();
        assert_eq!(e.hint(), Some(INTEGER_RANGE_HINT));
        let e = validate_int("work_mem", "1e999", &kb).unwrap_err();
        assert_eq!(e.hint(), None); // strtod ERANGE: no hint
    }

    #[test]
    fn memory_units() {
        let p = |v| parse_int(v, Unit::Kb);
        assert_eq!(p("8MB"), Ok(8192));
        assert_eq!(p("1GB"), Ok(1024 * 1024));
        assert_eq!(p("1TB"), Ok(1024 * 1024 * 1024));
        assert_eq!(p("2048B"), Ok(2));
        assert_eq!(p("1500B"), Ok(1));
        assert_eq!(p("1.5MB"), Ok(1536));
        assert_eq!(p("64kB"), Ok(64));
        assert_eq!(parse_int("1MB", Unit::Byte), Ok(1024 * 1024));
        assert_eq!(parse_int("1GB", Unit::Mb), Ok(1024));
        assert_eq!(parse_int("128MB", Unit::Blocks), Ok(16384));
        assert_eq!(parse_int("16MB", Unit::XBlocks), Ok(2048));
        assert_eq!(parse_int("1d", Unit::Min), Ok(1440));
        assert_eq!(parse_int("1s", Unit::Ms), Ok(1000));
        assert_eq!(parse_int("1500us", Unit::Ms), Ok(2));
        // A memory unit on a time setting is a bad unit.
        assert_eq!(
            parse_int("1MB", Unit::S),
            Err(NumberSyntaxError {
                hint: Some(TIME_UNITS_HINT)
            })
        );
    }

    #[test]
    fn hex_and_strtol_edges() {
        assert_eq!(parse_int("0x7fffffff", Unit::None), Ok(i32::MAX));
        assert_eq!(parse_int("-0x80000000", Unit::None), Ok(i32::MIN));
        assert_eq!(
            parse_int("0x80000000", Unit::None),
            Err(NumberSyntaxError {
                hint: Some(INTEGER_RANGE_HINT)
            })
        );
        assert_eq!(parse_int("0x1.8p1", Unit::None), Ok(3));
        assert_eq!(
            parse_int("08", Unit::None),
            Err(NumberSyntaxError { hint: None })
        );
        assert_eq!(parse_int("-0", Unit::None), Ok(0));
    }

    #[test]
    fn enum_lookup_and_hint() {
        let opts = [
            EnumOption::new("debug", 1),
            EnumOption::new("info", 2),
            EnumOption::new("notice", 3),
            EnumOption::hidden("secret", 4),
        ];
        assert_eq!(validate_enum("lvl", "INFO", &opts), Ok(2));
        assert_eq!(validate_enum("lvl", "secret", &opts), Ok(4));
        let e = validate_enum("lvl", "loud", &opts).unwrap_err();
        assert_eq!(e.message(), "invalid value for parameter \"lvl\": \"loud\"");
        assert_eq!(e.hint(), Some("Available values: debug, info, notice."));
        let all_hidden = [EnumOption::hidden("x", ())];
        assert_eq!(enum_hint(&all_hidden), "Available values.");
    }

    #[test]
    fn string_values() {
        assert_eq!(validate_string("abc", false).value, "abc");
        assert_eq!(validate_string("ab\0c", false).value, "ab");
        let long = "é".repeat(40); // 80 bytes
        let v = validate_string(&long, true);
        assert_eq!(v.value, "é".repeat(31)); // 62 bytes; 63 would split a char
        assert_eq!(
            v.notice.as_deref(),
            Some(format!("identifier \"{long}\" will be truncated to \"{}\"", v.value).as_str())
        );
        assert_eq!(validate_string(&"a".repeat(63), true).notice, None);
    }

    #[test]
    fn unit_names() {
        assert_eq!(Unit::None.name(), None);
        assert_eq!(Unit::Kb.name(), Some("kB"));
        assert_eq!(Unit::XBlocks.name(), Some("8kB"));
        assert_eq!(Unit::Min.name(), Some("min"));
        assert_eq!(Unit::S.units_hint(), Some(TIME_UNITS_HINT));
        assert_eq!(Unit::None.units_hint(), None);
    }
}
