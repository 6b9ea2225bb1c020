import ArgumentParser
import Foundation
import IPETEngine
import IPETFormats

/// Output formats for `ipet predict`.
enum RecordFormat: String, ExpressibleByArgument, CaseIterable {
    case json, csv, table
}
