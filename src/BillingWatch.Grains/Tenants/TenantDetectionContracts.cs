using Orleans;

namespace BillingWatch.Tenants;

/// <summary>One line of an NDJSON backfill: its line number and raw bytes.</summary>
[GenerateSerializer, Immutable]
public sealed record ImportLine([property: Id(0)] int LineNumber, [property: Id(1)] byte[] Body);

[GenerateSerializer, Immutable]
public sealed record ImportRejection([property: Id(0)] int Line, [property: Id(1)] string Error);

[GenerateSerializer, Immutable]
public sealed record ImportResult(
    [property: Id(0)] int Accepted,
    [property: Id(1)] int Duplicates,
    [property: Id(2)] IReadOnlyList<ImportRejection> Rejected);

[GenerateSerializer, Immutable]
public sealed record DetectorView(
    [property: Id(0)] string Name,
    [property: Id(1)] bool Enabled,
    [property: Id(2)] string Description,
    [property: Id(3)] IReadOnlyDictionary<string, double> Settings);

[GenerateSerializer, Immutable]
public sealed record DetectorUpdate(
    [property: Id(0)] bool? Enabled,
    [property: Id(1)] IReadOnlyDictionary<string, double>? Settings);

[GenerateSerializer, Immutable]
public sealed record DetectorUpdateResult(
    [property: Id(0)] DetectorView? Detector,
    [property: Id(1)] string? Error);
