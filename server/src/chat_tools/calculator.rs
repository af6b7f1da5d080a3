//! The built-in calculator: arithmetic the model asks for, evaluated
//! exactly as written (small models get sums wrong; a tool does not).
//! A recursive-descent parser over `+ - * / % ^`, parentheses, unary
//! signs, a few functions and `pi`/`e`; bounded in length and nesting.

/// Longest expression accepted.
const MAX_LEN: usize = 1_000;
/// Deepest nesting of parentheses and signs.
const MAX_DEPTH: usize = 64;

/// The value of `expression`, or what is wrong with it.
pub fn evaluate(expression: &str) -> Result<f64, String> {
    if expression.len() > MAX_LEN {
        return Err(format!(
            "the expression is longer than {MAX_LEN} characters"
        ));
    }
    let mut parser = Parser {
        text: expression.as_bytes(),
        at: 0,
        depth: 0,
    };
    let value = parser.sum()?;
    parser.skip_space();
    if parser.at < parser.text.len() {
        return Err(format!(
            "unexpected '{}' at position {}",
            expression[parser.at..].chars().next().unwrap_or(' '),
            parser.at + 1
        ));
    }
    if !value.is_finite() {
        return Err("the result is not a finite number (division by zero?)".into());
    }
    Ok(value)
}

/// A result as people write it: whole numbers without `.0`, others with
/// up to 12 decimals.
pub fn format(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{}", value as i64);
    }
    let text = format!("{:.12}", value);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        format!("{value:e}")
    } else {
        text.to_string()
    }
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "the expression nests deeper than {MAX_DEPTH} levels"
            ));
        }
        let out = f(self);
        self.depth -= 1;
        out
    }

    /// `product (('+' | '-') product)*`
    fn sum(&mut self) -> Result<f64, String> {
        let mut value = self.product()?;
        loop {
            if self.eat(b'+') {
                value += self.product()?;
            } else if self.eat(b'-') {
                value -= self.product()?;
            } else {
                return Ok(value);
            }
        }
    }

    /// `unary (('*' | '/' | '%') unary)*`
    fn product(&mut self) -> Result<f64, String> {
        let mut value = self.unary()?;
        loop {
            if self.peek() == Some(b'*') && self.text.get(self.at + 1) != Some(&b'*') {
                self.at += 1;
                value *= self.unary()?;
            } else if self.eat(b'/') {
                value /= self.unary()?;
            } else if self.eat(b'%') {
                value %= self.unary()?;
            } else {
                return Ok(value);
            }
        }
    }

    /// `atom (('^' | '**') unary)?`: right-associative, and binding
    /// tighter than a sign before it (`-3^2` is -9).
    fn power(&mut self) -> Result<f64, String> {
        let base = self.atom()?;
        let is_power = if self.eat(b'^') {
            true
        } else if self.peek() == Some(b'*') && self.text.get(self.at + 1) == Some(&b'*') {
            self.at += 2;
            true
        } else {
            false
        };
        if is_power {
            let exponent = self.nested(Self::unary)?;
            Ok(base.powf(exponent))
        } else {
            Ok(base)
        }
    }

    /// `('-' | '+') unary | power`
    fn unary(&mut self) -> Result<f64, String> {
        if self.eat(b'-') {
            return Ok(-self.nested(Self::unary)?);
        }
        if self.eat(b'+') {
            return self.nested(Self::unary);
        }
        self.power()
    }

    /// A number, `( sum )`, a constant or `function( sum )`.
    fn atom(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some(b'(') => {
                self.at += 1;
                let value = self.nested(Self::sum)?;
                if !self.eat(b')') {
                    return Err("a '(' is not closed".into());
                }
                Ok(value)
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => self.number(),
            Some(c) if c.is_ascii_alphabetic() => self.name(),
            Some(c) => Err(format!(
                "unexpected '{}' at position {}",
                c as char,
                self.at + 1
            )),
            None => Err("the expression ends too early".into()),
        }
    }

    fn number(&mut self) -> Result<f64, String> {
        let start = self.at;
        let digits = |p: &mut Self| {
            while p
                .text
                .get(p.at)
                .is_some_and(|c| c.is_ascii_digit() || *c == b'_' || *c == b',')
            {
                p.at += 1;
            }
        };
        digits(self);
        if self.text.get(self.at) == Some(&b'.') {
            self.at += 1;
            digits(self);
        }
        if matches!(self.text.get(self.at), Some(b'e' | b'E'))
            && self
                .text
                .get(self.at + 1)
                .is_some_and(|c| c.is_ascii_digit() || *c == b'-' || *c == b'+')
        {
            self.at += 2;
            digits(self);
        }
        let written = std::str::from_utf8(&self.text[start..self.at]).unwrap_or("");
        // Thousands separators, as people write them: 1,000 or 1_000.
        let plain: String = written
            .chars()
            .filter(|c| !matches!(c, '_' | ','))
            .collect();
        plain
            .parse()
            .map_err(|_| format!("'{written}' is not a number"))
    }

    fn name(&mut self) -> Result<f64, String> {
        let start = self.at;
        while self
            .text
            .get(self.at)
            .is_some_and(u8::is_ascii_alphanumeric)
        {
            self.at += 1;
        }
        let name = std::str::from_utf8(&self.text[start..self.at])
            .unwrap_or("")
            .to_ascii_lowercase();
        match name.as_str() {
            "pi" => return Ok(std::f64::consts::PI),
            "e" => return Ok(std::f64::consts::E),
            _ => {}
        }
        let function: fn(f64) -> f64 = match name.as_str() {
            "sqrt" => f64::sqrt,
            "abs" => f64::abs,
            "round" => f64::round,
            "floor" => f64::floor,
            "ceil" => f64::ceil,
            "ln" => f64::ln,
            "log" | "log10" => f64::log10,
            "exp" => f64::exp,
            "sin" => f64::sin,
            "cos" => f64::cos,
            "tan" => f64::tan,
            _ => {
                return Err(format!(
                    "unknown name '{name}' (known: pi, e, sqrt, abs, round, floor, ceil, ln, log, exp, sin, cos, tan)"
                ))
            }
        };
        if !self.eat(b'(') {
            return Err(format!("'{name}' needs its argument in parentheses"));
        }
        let argument = self.nested(Self::sum)?;
        if !self.eat(b')') {
            return Err("a '(' is not closed".into());
        }
        Ok(function(argument))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calc(text: &str) -> String {
        format(evaluate(text).unwrap())
    }

    #[test]
    fn arithmetic_follows_precedence() {
        assert_eq!(calc("2 + 3 * 4"), "14");
        assert_eq!(calc("(2 + 3) * 4"), "20");
        assert_eq!(calc("2 ^ 3 ^ 2"), "512");
        assert_eq!(calc("2 ** 10"), "1024");
        assert_eq!(calc("-3^2"), "-9");
        assert_eq!(calc("2^-1"), "0.5");
        assert_eq!(calc("2 * -3"), "-6");
        assert_eq!(calc("7 % 4 + 10 / 4"), "5.5");
        assert_eq!(calc("1,234 * 2"), "2468");
        assert_eq!(calc("1.5e3 + 0.25"), "1500.25");
        assert_eq!(calc("sqrt(16) + abs(-2) + round(2.6)"), "9");
        assert_eq!(calc("1/3"), "0.333333333333");
        assert_eq!(calc("2*pi"), "6.28318530718");
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        assert!(evaluate("1 / 0").unwrap_err().contains("finite"));
        assert!(evaluate("2 +").unwrap_err().contains("ends too early"));
        assert!(evaluate("(1 + 2").unwrap_err().contains("not closed"));
        assert!(evaluate("2 $ 3").unwrap_err().contains("'$'"));
        assert!(evaluate("rm(1)").unwrap_err().contains("unknown name 'rm'"));
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert!(evaluate(&deep).unwrap_err().contains("nests deeper"));
        let minus = format!("{}1", "-".repeat(100));
        assert!(evaluate(&minus).unwrap_err().contains("nests deeper"));
        assert!(evaluate(&"1+".repeat(600)).unwrap_err().contains("longer"));
    }
}
