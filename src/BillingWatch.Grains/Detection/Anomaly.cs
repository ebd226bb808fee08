using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;

namespace BillingWatch.Detection;

[JsonConverter(typeof(JsonStringEnumConverter<Severity>))]
public enum Severity
{
    Low,
    Medium,
    High,
    Critical,
}

/// <summary>
/// An anomaly as a detector raises it. Its id is derived from (tenant, mode, detector, subject, window
/// start), so replaying the same events raises the same id and storage keeps one row.
/// </summary>
public sealed record RaisedAnomaly(
    string Id,
    string TenantId,
    bool Livemode,
    string Detector,
    string Subject,
    Severity Severity,
    string Title,
    string Message,
    long DetectedAt,
    long WindowStart,
    long WindowEnd,
    string EvidenceJson,
    IReadOnlyList<string> EventIds)
{
    public static string IdFor(string tenantId, bool livemode, string detector, string subject, long windowStart)
    {
        var key = $"{tenantId}|{(livemode ? "live" : "test")}|{detector}|{subject}|{windowStart}";
        return "an_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..24];
    }
}

public static class SeverityNames
{
    public static string ToApi(this Severity severity) => severity switch
    {
        Severity.Low => "low",
        Severity.Medium => "medium",
        Severity.High => "high",
        _ => "critical",
    };

    public static bool TryParse(string? value, out Severity severity)
    {
        switch (value)
        {
            case "low": severity = Severity.Low; return true;
            case "medium": severity = Severity.Medium; return true;
            case "high": severity = Severity.High; return true;
            case "critical": severity = Severity.Critical; return true;
            default: severity = default; return false;
        }
    }
}
