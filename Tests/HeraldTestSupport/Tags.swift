import Testing

extension Tag {
    /// Runs the built `herald` binary (or a server it starts): slower, and needs the build's products.
    @Tag public static var endToEnd: Self
}
