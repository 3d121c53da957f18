# Creates sessions the way a Perl application does, with Apache::Session::MySQL (Storable, MD5 ids,
# Perl's own table), and prints their ids, one a line.
#   perl create-sessions.pl TABLE COUNT
use strict;
use warnings;
use utf8;
use Apache::Session::MySQL;

my ($table, $count) = @ARGV;
die "usage: $0 TABLE COUNT\n" unless $table && $count;
my $dsn = 'DBI:mysql:database=test;host=127.0.0.1';
binmode STDOUT;
$| = 1;

for my $i (1 .. $count) {
    my %session;
    tie %session, 'Apache::Session::MySQL', undef, {
        DataSource => $dsn, UserName => 'root', Password => '',
        LockDataSource => $dsn, LockUserName => 'root', LockPassword => '',
        TableName => $table,
    };
    $session{user} = { name => "Ann $i", roles => ['admin', 'editor'], city => 'Zürich', zip => '8001' };
    $session{visits} = $i;
    $session{cart} = [ { sku => 'a1', qty => 2 }, undef ];
    print $session{_session_id}, "\n";
    untie %session;
}
