namespace BillingWatch.Silo;

/// <summary>The command line every BillingWatch process starts its host with.</summary>
public static class HostArguments
{
    /// <summary>
    /// Turns off the reload of appsettings files on change, ahead of the caller's own arguments (which may turn
    /// it back on). The reload watches the content root with its subfolders, and the default data folder is
    /// one of them: every write to the event log's WAL woke the watcher, about 7 % of the CPU under load
    /// (docs/PERFORMANCE.md). BillingWatch reads its settings once at start anyway.
    /// </summary>
    public static string[] With(string[] args) => ["--hostBuilder:reloadConfigOnChange=false", .. args];
}
