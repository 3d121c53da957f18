# Ties an existing session and prints its whole contents as typed JSON (see plain() in common.pl).
use strict;
use warnings;
use FindBin;
require "$FindBin::Bin/common.pl";

my $config = config_from_argv();
my $id = shift @ARGV;
my %session;
tie_session($config, \%session, $id);
print_json({ map { ($_ => plain($session{$_})) } keys %session });
untie %session;
