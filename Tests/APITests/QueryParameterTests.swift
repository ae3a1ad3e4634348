import APICore
import Testing

@Suite struct QueryParameterTests {
    @Test func decodesFormEncoding() {
        let query = QueryParameters(query: "department=Research+and%20Development&run_id=a%2Bb&x&limit=5&limit=7")
        #expect(query.first("department") == "Research and Development")
        #expect(query.first("run_id") == "a+b")
        #expect(query.first("x") == "")
        #expect(query.first("limit") == "5", "the first of repeated parameters wins")
        #expect(query.first("missing") == nil)
    }

    @Test func validatesPagination() throws {
        #expect(try QueryParameters(query: nil).pagination() == Pagination(limit: 50, offset: 0))
        #expect(try QueryParameters(query: "limit=500&offset=9223372036854775807").pagination() == Pagination(limit: 500, offset: .max))
        #expect(throws: APIError.self) { try QueryParameters(query: "offset=9223372036854775808").pagination() }
    }
}
