#include "tools/cli_parse.h"

namespace castor::tools {

Result<CliParsed> parse_cli(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return CliParsed::kHelp;
  } catch (const CLI::ParseError& e) {
    return Status(Code::kInvalidArgument, e.what());
  }
  return CliParsed::kOk;
}

}  // namespace castor::tools
