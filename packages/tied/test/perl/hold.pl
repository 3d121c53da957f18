# Ties a session and keeps it tied (holding whatever lock its class takes) until a line arrives on
# stdin; sets held_by => 'perl' first, so the holder's write is visible once it lets go.
use strict;
use warnings;
use FindBin;
require "$FindBin::Bin/common.pl";

my $config = config_from_argv();
my $id = shift @ARGV;
my %session;
tie_session($config, \%session, $id);
$session{held_by} = 'perl';
print "held\n";
my $line = <STDIN>;
untie %session;
print "released\n";
