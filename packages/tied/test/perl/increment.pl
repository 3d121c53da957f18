# Ties a session N times, incrementing its count each time, and prints the last count it wrote.
use strict;
use warnings;
use FindBin;
require "$FindBin::Bin/common.pl";

my $config = config_from_argv();
my ($id, $times) = @ARGV;
my $count;
for (1 .. $times) {
    my %session;
    tie_session($config, \%session, $id);
    $count = ++$session{count};
    untie %session;
}
print "$count\n";
