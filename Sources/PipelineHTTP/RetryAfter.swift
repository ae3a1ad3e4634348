import Foundation

/// Parsing of the `Retry-After` field (RFC 9110 §10.2.3): either delta-seconds or an HTTP-date.
///
/// A 429 or 503 usually says how long to stay away; honouring it is both polite and the fastest
/// way back in. Written by hand rather than with `DateFormatter`, whose parsing depends on locale
/// settings and whose instances are not safe to share between threads.
enum RetryAfter {
    /// The wait that `value` asks for, measured from `now`: a date in the past means "now"
    /// (zero); `nil` when the value is neither form (a malformed field is ignored, not trusted).
    static func wait(_ value: String, now: Date) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        if trimmed.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
            // delta-seconds is 1*DIGIT with no bound: saturate rather than reject a huge one.
            return .seconds(Int(trimmed) ?? Int.max)
        }
        guard let date = HTTPDate.parse(trimmed, now: now) else { return nil }
        let delta = date.timeIntervalSince(now)
        return delta > 0 ? .seconds(delta) : .zero
    }
}

/// The three HTTP-date formats of RFC 9110 §5.6.7, which a recipient must all accept:
/// `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate, what servers send today),
/// `Sunday, 06-Nov-94 08:49:37 GMT` (obsolete RFC 850) and `Sun Nov  6 08:49:37 1994` (asctime).
enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let shortDays: Set<String> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    private static let longDays: Set<String> = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

    /// The instant `text` names, or `nil` when it is not an HTTP-date. `now` resolves the
    /// two-digit years of the RFC 850 form.
    static func parse(_ text: String, now: Date) -> Date? {
        let tokens = text.split(separator: " ", omittingEmptySubsequences: true).map { String($0).asciiLowercased }
        switch tokens.count {
        case 6:  // IMF-fixdate: day-name "," day month year time "GMT"
            guard tokens[0].hasSuffix(","), shortDays.contains(String(tokens[0].dropLast())),
                  tokens[1].utf8.count == 2, tokens[3].utf8.count == 4, tokens[5] == "gmt",
                  let day = Int(tokens[1]), let month = month(tokens[2]), let year = Int(tokens[3])
            else { return nil }
            return date(year: year, month: month, day: day, time: tokens[4])
        case 4:  // RFC 850: day-name-l "," day "-" month "-" 2DIGIT time "GMT"
            let dayMonthYear = tokens[1].split(separator: "-", omittingEmptySubsequences: false)
            guard tokens[0].hasSuffix(","), longDays.contains(String(tokens[0].dropLast())),
                  tokens[3] == "gmt", dayMonthYear.count == 3, dayMonthYear[2].utf8.count == 2,
                  let day = Int(dayMonthYear[0]), let month = month(String(dayMonthYear[1])),
                  let twoDigitYear = Int(dayMonthYear[2])
            else { return nil }
            return date(year: fullYear(twoDigitYear, now: now), month: month, day: day, time: tokens[2])
        case 5:  // asctime: day-name month day time year (day space-padded)
            guard shortDays.contains(tokens[0]), let month = month(tokens[1]),
                  let day = Int(tokens[2]), tokens[4].utf8.count == 4, let year = Int(tokens[4])
            else { return nil }
            return date(year: year, month: month, day: day, time: tokens[3])
        default:
            return nil
        }
    }

    private static func month(_ name: String) -> Int? {
        months.firstIndex(of: name).map { $0 + 1 }
    }

    /// RFC 9110: a two-digit year that would be more than 50 years in the future is in the past century.
    private static func fullYear(_ twoDigits: Int, now: Date) -> Int {
        let currentYear = 1970 + Int(now.timeIntervalSince1970 / 31_556_952)  // mean Gregorian year
        var year = (currentYear / 100) * 100 + twoDigits
        if year > currentYear + 50 { year -= 100 }
        return year
    }

    /// The UTC instant of a calendar date and an `hh:mm:ss` time, or `nil` when out of range.
    private static func date(year: Int, month: Int, day: Int, time: String) -> Date? {
        let hms = time.split(separator: ":", omittingEmptySubsequences: false)
        guard hms.count == 3, hms.allSatisfy({ $0.utf8.count == 2 }),
              let hour = Int(hms[0]), let minute = Int(hms[1]), let second = Int(hms[2]),
              (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second),
              (1...9999).contains(year), (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        // A leap second (:60) cannot be represented: take the second before it.
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + min(second, 59)
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`),
    /// so no `Calendar` or time zone database is involved.
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
