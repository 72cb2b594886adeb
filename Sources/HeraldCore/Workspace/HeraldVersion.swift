/// Herald's version: `herald --version`, the report footer and `/healthz` show the same one.
public enum HeraldVersion {
    /// The version of this build.
    public static let current = "0.15.0"
}
