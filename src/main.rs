use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use switchyard::cli::{CheckArgs, Cli, Command, DnssecCommand, ImportArgs, LogFormat, ServeArgs};
use switchyard::config::{Settings, SettingsOverrides};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(args),
        Command::Check(args) => return check(args),
        Command::Import(args) => return import(args),
        Command::Dnssec(command) => dnssec(command),
        Command::Reload(args) => remote(switchyard::remote::reload(args)),
        Command::Status(args) => remote(switchyard::remote::status(args)),
        Command::Fleet(args) => remote(switchyard::remote::fleet(args)),
        Command::Explain(args) => remote(switchyard::remote::explain(args)),
        Command::Override(args) => remote(switchyard::remote::set_override(args)),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "switchyard", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpage { dir } => manpages(dir.as_deref()).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("switchyard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour());
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Colour only for a person at a terminal: not in files or pipes, not under journald (which
/// would store the escapes), never with `NO_COLOR` (no-color.org).
fn colour() -> bool {
    use std::io::IsTerminal;
    let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    std::io::stderr().is_terminal() && !set("NO_COLOR") && !set("JOURNAL_STREAM")
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    switchyard::tls::install_crypto_provider();
    let overrides = SettingsOverrides { listen: args.listen, http: args.http, zones: args.zones, watch: args.watch };
    let settings = Settings::load(args.config.as_deref(), overrides)?;
    runtime()?.block_on(switchyard::app::serve(settings))?;
    Ok(ExitCode::SUCCESS)
}

fn check(args: CheckArgs) -> ExitCode {
    let overrides = SettingsOverrides { zones: args.zones, ..Default::default() };
    let settings = match Settings::load(args.config.as_deref(), overrides) {
        Ok(settings) => settings,
        Err(problem) => {
            eprintln!("{problem}");
            return ExitCode::FAILURE;
        }
    };
    match settings.zone_source().load() {
        Ok(model) => {
            for zone in &model.zones {
                let signed = zone.dnssec.as_ref().map_or(String::new(), |signing| {
                    let keys: Vec<String> = signing
                        .keys
                        .iter()
                        .map(|k| format!("{} {} {}", k.role.label(), k.tag, k.state.label()))
                        .collect();
                    format!(", signed ({})", keys.join(", "))
                });
                println!(
                    "{}: {} records, serial {}{signed} ({})",
                    zone.origin,
                    zone.record_count(),
                    zone.soa.serial,
                    zone.file.display()
                );
            }
            if model.zones.is_empty() {
                println!("no zone files (*.yaml, *.yml) in {} (allowed by allow_no_zones)", settings.zones.display());
            }
            ExitCode::SUCCESS
        }
        Err(problems) => failed(&problems, ""),
    }
}

/// Converts a zone file: the YAML to stdout or `-o`, warnings and problems to stderr.
fn import(args: ImportArgs) -> ExitCode {
    let output = args.output.clone().unwrap_or_else(|| "<stdout>".into());
    match switchyard::import::import(&args.file, args.origin.as_deref(), &output) {
        Ok(imported) => {
            for warning in &imported.warnings {
                eprintln!("{warning}");
            }
            let written = match &args.output {
                Some(path) => std::fs::write(path, &imported.yaml),
                None => std::io::Write::write_all(&mut std::io::stdout(), imported.yaml.as_bytes()),
            };
            if let Err(e) = written {
                eprintln!("switchyard: cannot write {}: {e}", output.display());
                return ExitCode::FAILURE;
            }
            eprintln!("{}: {} records imported into {}", args.file.display(), imported.records, output.display());
            ExitCode::SUCCESS
        }
        Err(problems) => failed(&problems, "; nothing written"),
    }
}

fn dnssec(command: DnssecCommand) -> anyhow::Result<ExitCode> {
    use switchyard::dnssec::{Algorithm, Role};
    let zone_name = |text: &str| {
        switchyard::model::Name::from_ascii(text).map(|mut name| {
            name.set_fqdn(true);
            name
        })
    };
    match command {
        DnssecCommand::Keygen { zone, dir, algorithm, role } => {
            let algorithm = Algorithm::parse(&algorithm).map_err(anyhow::Error::msg)?;
            let role = Role::parse(&role).map_err(anyhow::Error::msg)?;
            let path = switchyard::dnssec::key::generate(&zone_name(&zone)?, &dir, algorithm, role)
                .map_err(anyhow::Error::msg)?;
            println!("{}", path.display());
        }
        DnssecCommand::Ds { zone, config, zones } => {
            let origin = zone_name(&zone)?;
            let overrides = SettingsOverrides { zones, ..Default::default() };
            let settings = Settings::load(config.as_deref(), overrides)?;
            let model = match settings.zone_source().load() {
                Ok(model) => model,
                Err(problems) => return Ok(failed(&problems, "")),
            };
            let zone = model.zones.iter().find(|z| z.origin == origin);
            let zone = zone.ok_or_else(|| anyhow::anyhow!("no zone {origin} in {}", settings.zones.display()))?;
            let signing =
                zone.dnssec.as_ref().ok_or_else(|| anyhow::anyhow!("{origin} is not signed (no dnssec: section)"))?;
            for key in signing.keys.iter().filter(|k| k.role.signs_keys()) {
                println!("{}", key.ds_text(&origin));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every problem on its own line on stderr, then how many; a failure.
fn failed(problems: &[impl std::fmt::Display], consequence: &str) -> ExitCode {
    for problem in problems {
        eprintln!("{problem}");
    }
    eprintln!("{} problem(s) found{consequence}", problems.len());
    ExitCode::FAILURE
}

/// The man page on stdout, or it and one page per command (`switchyard-serve.1`, ...) in `dir`.
fn manpages(dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let command = Cli::command();
    let Some(dir) = dir else { return Ok(clap_mangen::Man::new(command).render(&mut std::io::stdout())?) };
    std::fs::create_dir_all(dir)?;
    let write = |name: &str, page: clap::Command| -> anyhow::Result<()> {
        let mut file = std::fs::File::create(dir.join(format!("{name}.1")))?;
        Ok(clap_mangen::Man::new(page).render(&mut file)?)
    };
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("switchyard-{}", sub.get_name());
        write(&name, sub.clone().display_name(name.clone()).bin_name(format!("switchyard {}", sub.get_name())))?;
    }
    write("switchyard", command)
}

/// Runs one of the commands that talk to a running server.
fn remote(command: impl std::future::Future<Output = anyhow::Result<ExitCode>>) -> anyhow::Result<ExitCode> {
    switchyard::tls::install_crypto_provider();
    runtime()?.block_on(command)
}
