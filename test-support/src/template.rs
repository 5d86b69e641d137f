//! Reading `template.yaml` the way two tests need it: the drift test holds each function's
//! environment and policies to `crewship_lambda::access`, and the Lambda emulator test starts
//! each function with exactly the environment the template gives it. Line-based, for the
//! template's own layout (two-space indentation, one `NAME: value` per variable); a layout it
//! cannot read makes the calling test fail, never pass.

/// `template.yaml` at the repository root.
pub const TEMPLATE: &str = include_str!("../../template.yaml");

/// The lines of the block that starts with the line `header` (matched whole, indentation
/// included), up to the next line indented as much or less.
pub fn block<'t>(template: &'t str, header: &str) -> Vec<&'t str> {
    let lines: Vec<&str> = template.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == header)
        .unwrap_or_else(|| panic!("template.yaml has no line {header:?}"));
    let indent = header.len() - header.trim_start().len();
    lines[start + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .copied()
        .collect()
}

/// The environment variables set in a block's `Variables:` section, `(NAME, value)` with the
/// value as written (`!Ref RunsTable`, `!If [...]`, a literal); comments left out.
pub fn variables<'t>(lines: &[&'t str]) -> Vec<(&'t str, &'t str)> {
    let Some(start) = lines.iter().position(|l| l.trim() == "Variables:") else {
        return Vec::new();
    };
    let indent = lines[start].len() - lines[start].trim_start().len();
    lines[start + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .filter(|l| !l.trim().starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (name, value) = l.trim().split_once(':')?;
            Some((name, value.trim()))
        })
        .collect()
}

/// The environment of the function `resource` (e.g. `HandlerFunction`): the `Globals`'
/// variables, then its own, which win over a global of the same name.
pub fn function_environment<'t>(template: &'t str, resource: &str) -> Vec<(&'t str, &'t str)> {
    let mut env = variables(&block(template, "  Function:"));
    for (name, value) in variables(&block(template, &format!("  {resource}:"))) {
        env.retain(|(n, _)| *n != name);
        env.push((name, value));
    }
    env
}

/// The `Default:` of the template parameter `name`, unquoted; `None` if it has none.
pub fn parameter_default<'t>(template: &'t str, name: &str) -> Option<&'t str> {
    let parameters = block(template, "Parameters:");
    let own = block_in(&parameters, &format!("  {name}:"));
    own.iter()
        .find_map(|l| l.trim().strip_prefix("Default:"))
        .map(|v| v.trim().trim_matches('"'))
}

fn block_in<'t>(lines: &[&'t str], header: &str) -> Vec<&'t str> {
    let Some(start) = lines.iter().position(|l| *l == header) else {
        panic!("template.yaml has no parameter {header:?}");
    };
    let indent = header.len() - header.trim_start().len();
    lines[start + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
Parameters:
  Days:
    Type: Number
    Default: 90
  Name:
    Type: String
    Default: \"/x/y\"
Globals:
  Function:
    Environment:
      Variables:
        A: one
        # a comment
        B: !Ref Days
Resources:
  Fn:
    Properties:
      Environment:
        Variables:
          B: own
          C: !If [Cond, x, \"\"]
      Policies:
        - Statement: []
";

    #[test]
    fn a_function_gets_the_globals_and_its_own_variables_its_own_winning() {
        assert_eq!(
            function_environment(SAMPLE, "Fn"),
            vec![("A", "one"), ("B", "own"), ("C", "!If [Cond, x, \"\"]")]
        );
        assert_eq!(parameter_default(SAMPLE, "Days"), Some("90"));
        assert_eq!(parameter_default(SAMPLE, "Name"), Some("/x/y"));
    }

    #[test]
    fn the_real_template_gives_every_function_an_environment() {
        for resource in ["HandlerFunction", "ExecutorFunction", "WsFunction"] {
            let env = function_environment(TEMPLATE, resource);
            assert!(
                env.iter().any(|(n, _)| *n == "CREWSHIP_STORE"),
                "{resource}"
            );
        }
    }
}
