import Foundation

// Files a config names (certificates, keys, CAs): present and readable, relative to the config
// file's directory; a private key not readable by everyone.
extension ConfigLoader {
    /// The path of a private key file, which must not be readable by every user.
    package static func privateKeyFile(_ value: YAMLValue, relativeTo directory: String) throws -> String {
        let key = try readableFile(value, relativeTo: directory)
        var status = stat()
        if stat(key, &status) == 0, status.st_mode & 0o004 != 0 {
            throw value.error("'\(value.key)': the private key \(key) is readable by every user (mode \(String(status.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        return key
    }

    /// The path (relative ones are taken from `directory`) of a file that must be readable.
    package static func readableFile(_ value: YAMLValue, relativeTo directory: String) throws -> String {
        let text = try value.string()
        let path = text.hasPrefix("/") || directory.isEmpty ? text : (directory as NSString).appendingPathComponent(text)
        guard FileManager.default.isReadableFile(atPath: path) else { throw value.error("'\(value.key)': cannot read \(path)") }
        return path
    }
}
